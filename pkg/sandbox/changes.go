package sandbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"
)

// The journal of changes (not the request journal of http.go): what
// changed in the directory since the snapshot, one record per flush (see
// persist.go for when flushes happen and how the files are kept).
//
// Changes are noted where they are made, under the tenant's lock, as
// entries holding the changed object's state at that moment (a user, a
// policy or an app whole — each small), or the change itself for what
// grows with the tenant (a membership added or removed, an invitation
// appended). Replaying the entries in order on the snapshot rebuilds the
// directory exactly, in Save's order.
//
// A record is one line: the CRC-32C of the JSON that follows, in hex, a
// space, then a JSON array of entries. A line is written with one write,
// so a crash of the process leaves either all of it or none; a power cut
// or a full disk can leave a last line without its newline (torn), which
// is ignored. A complete line that does not check is corruption: an error
// naming the record and its offset.

// entry is one change. Exactly one field is set.
type entry struct {
	User          *User        `json:"user,omitempty"`
	UserDeleted   string       `json:"userDeleted,omitempty"`
	Group         *Group       `json:"group,omitempty"`
	MemberAdded   *membership  `json:"memberAdded,omitempty"`
	MemberRemoved *membership  `json:"memberRemoved,omitempty"`
	Invitation    *Invitation  `json:"invitation,omitempty"`
	Policy        *Policy      `json:"policy,omitempty"`
	PolicyDeleted string       `json:"policyDeleted,omitempty"`
	App           *appSnapshot `json:"app,omitempty"`
}

type membership struct {
	Group string `json:"group"`
	User  string `json:"user"`
}

// changeLog collects a persisted directory's changes between flushes. A
// directory without one (nil) is not persisted and notes nothing.
type changeLog struct {
	pending []entry
	// full says the changes since the last flush cannot be told as
	// entries (the directory was replaced by Load, persistence just
	// started, or a write failed): the next flush writes a snapshot.
	full bool
}

// noting reports whether changes are to be noted: the directory is
// persisted, and the next flush is not writing it whole anyway.
func (d *directory) noting() bool { return d.changes != nil && !d.changes.full }

func (d *directory) note(e entry) {
	if d.noting() {
		d.changes.pending = append(d.changes.pending, e)
	}
}

// noteUser records u's state now: call it after changing u.
func (d *directory) noteUser(u *userRec) {
	if d.noting() {
		c := u.clone()
		d.note(entry{User: &c})
	}
}

// notePolicy records p's state now.
func (d *directory) notePolicy(p *Policy) {
	if d.noting() {
		c := p.clone()
		d.note(entry{Policy: &c})
	}
}

// noteApp records a's state now.
func (d *directory) noteApp(a *App) {
	if !d.noting() {
		return
	}
	as, err := saveApp(*a)
	if err != nil {
		// The next flush writes the tenant whole, and reports the error
		// when it writes this app.
		d.changes.full = true
		return
	}
	d.note(entry{App: &as})
}

// take returns the entries noted since the last flush, in the order
// noted, and forgets them.
func (c *changeLog) take() []entry {
	out := c.pending
	c.pending = nil
	return out
}

// restart forgets the pending changes once the directory is written whole.
func (c *changeLog) restart() {
	c.pending, c.full = nil, false
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// appendRecord appends the record of entries to buf.
func appendRecord(buf []byte, entries []entry) ([]byte, error) {
	body, err := json.Marshal(entries)
	if err != nil {
		return buf, fmt.Errorf("sandbox: journal: %w", err)
	}
	buf = fmt.Appendf(buf, "%08x ", crc32.Checksum(body, crcTable))
	buf = append(buf, body...)
	return append(buf, '\n'), nil
}

// replay applies the journal's records, after its header, to d. A torn
// last record is ignored; any other bad record is an error naming it.
func replay(d *directory, r *bufio.Reader, offset int64) error {
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return nil // nothing, or a torn last record
		}
		if err != nil {
			return err
		}
		if err := d.applyRecord(line[:len(line)-1]); err != nil {
			return fmt.Errorf("record %d (byte %d): %w", n, offset, err)
		}
		offset += int64(len(line))
	}
}

func (d *directory) applyRecord(line []byte) error {
	sum, body, ok := bytes.Cut(line, []byte(" "))
	want, err := strconv.ParseUint(string(sum), 16, 32)
	if !ok || len(sum) != 8 || err != nil {
		return errors.New("no checksum")
	}
	if crc32.Checksum(body, crcTable) != uint32(want) {
		return errors.New("checksum does not match")
	}
	var entries []entry
	if err := json.Unmarshal(body, &entries); err != nil {
		return err
	}
	for _, e := range entries {
		if err := d.apply(e); err != nil {
			return err
		}
	}
	return nil
}

// apply redoes one change.
func (d *directory) apply(e entry) error {
	switch {
	case e.User != nil:
		if e.User.ID == "" || e.User.UserPrincipalName == "" {
			return errors.New("a user has no id or userPrincipalName")
		}
		d.putUser(*e.User)
	case e.UserDeleted != "":
		u := d.userByID[strings.ToLower(e.UserDeleted)]
		if u == nil {
			return fmt.Errorf("deleted user %s is unknown", e.UserDeleted)
		}
		d.deleteUser(u)
	case e.Group != nil:
		d.putGroup(*e.Group)
	case e.MemberAdded != nil, e.MemberRemoved != nil:
		return d.applyMembership(e)
	case e.Invitation != nil:
		d.invitations = append(d.invitations, *e.Invitation)
	case e.Policy != nil:
		if e.Policy.ID == "" {
			return errors.New("a policy has no id")
		}
		e.Policy.normalize()
		d.putPolicy(*e.Policy)
	case e.PolicyDeleted != "":
		if !d.deletePolicy(e.PolicyDeleted) {
			return fmt.Errorf("deleted policy %s is unknown", e.PolicyDeleted)
		}
	case e.App != nil:
		a, err := loadApp(*e.App)
		if err != nil {
			return err
		}
		d.apps[strings.ToLower(a.ClientID)] = &a
	default:
		return errors.New("an entry says nothing")
	}
	return nil
}

func (d *directory) applyMembership(e entry) error {
	m, added := e.MemberAdded, true
	if m == nil {
		m, added = e.MemberRemoved, false
	}
	g := d.groupByID[strings.ToLower(m.Group)]
	if g == nil {
		return fmt.Errorf("membership in unknown group %s", m.Group)
	}
	if added {
		if d.userByID[strings.ToLower(m.User)] == nil {
			return fmt.Errorf("group %s adds unknown member %s", m.Group, m.User)
		}
		if !d.addMember(g, m.User) {
			return fmt.Errorf("group %s adds %s twice", m.Group, m.User)
		}
		return nil
	}
	if !d.removeMember(g, m.User) {
		return fmt.Errorf("group %s removes %s, not a member", m.Group, m.User)
	}
	return nil
}

// putUser stores u as it is, replacing the user with its id in place.
func (d *directory) putUser(u User) *userRec {
	key := strings.ToLower(u.ID)
	if old, ok := d.userByID[key]; ok {
		delete(d.userByUPN, strings.ToLower(old.UserPrincipalName))
		old.User = u
		d.userByUPN[strings.ToLower(u.UserPrincipalName)] = old
		return old
	}
	d.seq++
	rec := &userRec{seq: d.seq, User: u}
	d.users = append(d.users, rec)
	d.userByID[key] = rec
	d.userByUPN[strings.ToLower(u.UserPrincipalName)] = rec
	return rec
}

// putGroup stores g, replacing the group with its id in place.
func (d *directory) putGroup(g Group) {
	key := strings.ToLower(g.ID)
	if old, ok := d.groupByID[key]; ok {
		old.Group = g
	} else {
		rec := &groupRec{Group: g, isIn: map[string]uint64{}}
		d.groups = append(d.groups, rec)
		d.groupByID[key] = rec
	}
	d.note(entry{Group: &g})
}
