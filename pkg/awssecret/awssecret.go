// Package awssecret reads a secret from AWS Secrets Manager: the webhook
// function's signing secret, read once at cold start so that it never sits
// in the function's environment. The AWS SDK's standard settings apply
// (AWS_REGION, the role's credentials, AWS_ENDPOINT_URL_SECRETS_MANAGER).
package awssecret

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/stintdev/stint/pkg/fault"
)

// Read returns the SecretString of the secret arn names; variable is the
// setting that named it, for the error. The error never holds the secret.
func Read(ctx context.Context, variable, arn string) (string, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return "", fmt.Errorf("secrets manager: load AWS configuration: %w", err)
	}
	return get(ctx, secretsmanager.NewFromConfig(cfg), variable, arn)
}

func get(ctx context.Context, client *secretsmanager.Client, variable, arn string) (string, error) {
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", explain(err, variable, arn)
	}
	if out.SecretString == nil || *out.SecretString == "" {
		return "", fault.Errorf(fault.Invalid, "secrets manager: %s %s holds no SecretString (a binary secret?): store the secret as text", variable, arn)
	}
	return *out.SecretString, nil
}

// explain turns Secrets Manager's error codes into what to do.
func explain(err error, variable, arn string) error {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return fault.Errorf(fault.Transient, "secrets manager: read %s %s: %w", variable, arn, err)
	}
	switch api.ErrorCode() {
	case "AccessDeniedException":
		return fault.Errorf(fault.Unauthorized, "secrets manager: the function's role may not read %s %s: grant it secretsmanager:GetSecretValue on that secret (and kms:Decrypt on its key if it is a customer managed key): %s", variable, arn, api.ErrorMessage())
	case "ResourceNotFoundException":
		return fault.Errorf(fault.NotFound, "secrets manager: no secret %s (%s), or it has no current version: check the ARN and the region (AWS_REGION): %s", arn, variable, api.ErrorMessage())
	case "DecryptionFailure":
		return fault.Errorf(fault.Unauthorized, "secrets manager: %s %s cannot be decrypted: grant the function's role kms:Decrypt on the secret's key: %s", variable, arn, api.ErrorMessage())
	}
	return fault.Errorf(fault.Transient, "secrets manager: read %s %s: %w", variable, arn, err)
}
