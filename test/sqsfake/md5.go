package sqsfake

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// md5Hex is the hex MD5 of s, as MD5OfMessageBody and MD5OfBody carry it.
func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// md5OfAttributes is MD5OfMessageAttributes (and MD5OfMessageSystemAttributes)
// by the documented algorithm: for each attribute in ascending name order,
// the name, the data type and the value, each preceded by its length as a
// 4-byte big-endian integer, with a transport byte before the value (1 for
// String and Number, 2 for Binary). Empty for no attributes.
// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html
func md5OfAttributes(attrs map[string]attrValue) string {
	if len(attrs) == 0 {
		return ""
	}
	var buf []byte
	field := func(b []byte) {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(b)))
		buf = append(buf, b...)
	}
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		v := attrs[name]
		field([]byte(name))
		field([]byte(v.DataType))
		if baseType(v.DataType) == "Binary" {
			buf = append(buf, 2)
			field(v.BinaryValue)
		} else {
			buf = append(buf, 1)
			field([]byte(derefString(v.StringValue)))
		}
	}
	sum := md5.Sum(buf)
	return hex.EncodeToString(sum[:])
}

// baseType is the data type before any custom suffix ("Number.int" → "Number").
func baseType(dataType string) string {
	base, _, _ := strings.Cut(dataType, ".")
	return base
}

var attrNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,256}$`)

// checkAttributes validates message attributes as SQS does (at most 10;
// names of letters, digits, _, - and . not starting with AWS. or Amazon.;
// a String, Number or Binary data type with a non-empty value) and returns
// the bytes they add to the message size.
func checkAttributes(attrs map[string]attrValue) (int, *apiError) {
	if len(attrs) > 10 {
		return 0, errInvalidParameter("Number of message attributes [%d] exceeds the allowed maximum [10].", len(attrs))
	}
	size := 0
	for name, v := range attrs {
		lower := strings.ToLower(name)
		if !attrNameRE.MatchString(name) || strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon.") ||
			strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
			return 0, errInvalidParameter("Message (user) attribute name '%s' is invalid.", name)
		}
		if v.DataType == "" {
			return 0, errInvalidParameter("The message attribute '%s' must contain a non-empty attribute type.", name)
		}
		switch baseType(v.DataType) {
		case "String":
			if derefString(v.StringValue) == "" {
				return 0, errInvalidParameter("The message attribute '%s' with type 'String' must use field 'String'.", name)
			}
			if !validChars(*v.StringValue) {
				return 0, errInvalidMessageContents()
			}
		case "Number":
			if _, err := strconv.ParseFloat(derefString(v.StringValue), 64); err != nil {
				return 0, errInvalidParameter("Can't cast the value of message (user) attribute '%s' to a number.", name)
			}
		case "Binary":
			if len(v.BinaryValue) == 0 {
				return 0, errInvalidParameter("The message attribute '%s' with type 'Binary' must use field 'Binary'.", name)
			}
		default:
			return 0, errInvalidParameter("The type of message (user) attribute '%s' is invalid. You must use only the following supported type prefixes: Binary, Number, String.", name)
		}
		size += len(name) + len(v.DataType) + len(derefString(v.StringValue)) + len(v.BinaryValue)
	}
	return size, nil
}

// validChars reports whether s holds only the characters SQS allows in a
// message: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF.
func validChars(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}

func derefString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
