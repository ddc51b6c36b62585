// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
	"github.com/ecrlabs/terraform-provider-ecr/internal/imagesource"
)

// explainRemoteFailure words an error from reading source_image, with the
// attribute it is about.
func explainRemoteFailure(m imageResourceModel, err error) (at path.Path, summary, detail string) {
	ref := m.SourceImage.ValueString()
	var (
		refErr      *imagesource.ReferenceError
		authErr     *imagesource.RegistryAuthError
		notFound    *imagesource.NotFoundError
		limited     *imagesource.RateLimitError
		tlsErr      *imagesource.TLSError
		unknownHost *imagesource.UnknownHostError
		plainHTTP   *imagesource.PlainHTTPError
		choice      *imagesource.ChoiceError
		digestErr   *imagesource.DigestMismatchError
		sizeErr     *imagesource.SizeMismatchError
		unsupported *imagesource.UnsupportedError
	)
	at = path.Root("source_image")
	switch {
	case errors.As(err, &refErr):
		return at, "Invalid Image Reference", fmt.Sprintf("%v. source_image takes a reference as docker pull does, "+
			"such as alpine:3.20 or ghcr.io/org/app@sha256:<64 hex digits>.", err)
	case errors.As(err, &authErr):
		if m.SourceUsername.ValueString() != "" {
			at = path.Root("source_username")
		}
		return at, "Registry Refused the Credentials", fmt.Sprintf("%v.\n\nThe provider reads a registry with, in this "+
			"order: source_username and source_password_wo; for an ECR registry, its own AWS credentials (which need "+
			"ecr:GetAuthorizationToken, ecr:BatchGetImage and ecr:GetDownloadUrlForLayer, and for another account the "+
			"repository's policy allowing them); the Docker config (DOCKER_CONFIG or ~/.docker/config.json); anonymous "+
			"access. Log in with docker login or crane auth login, or set source_username and source_password_wo.", err)
	case errors.As(err, &notFound):
		return at, "Image Not Found in the Source Registry", fmt.Sprintf("%v. Check the repository, tag or digest "+
			"of source_image (Docker Hub's official images are library/<name>). A private repository may answer "+
			"404 to a client without access, as well.", err)
	case errors.As(err, &limited):
		return at, "Source Registry Rate Limit Reached", err.Error() + ". Logging in raises the limit (Docker Hub " +
			"counts anonymous pulls per IP address, logged-in pulls per account); a copy pinned by digest (@sha256:) asks " +
			"the registry nothing once it is in ECR."
	case errors.As(err, &tlsErr):
		return at, "TLS Failure Talking to the Source Registry", fmt.Sprintf("%v. The provider verifies registries "+
			"against the system's certificate roots; add the registry's CA to them (SSL_CERT_FILE or SSL_CERT_DIR).", err)
	case errors.As(err, &unknownHost):
		return at, "Source Registry Host Not Found", fmt.Sprintf("%v. Check the host name in source_image, and that "+
			"this machine's DNS resolves it.", err)
	case errors.As(err, &plainHTTP):
		return at, "Plain HTTP Refused", fmt.Sprintf("%v. The provider reads registries over TLS, and over plain HTTP "+
			"only at loopback addresses (127.0.0.1, ::1, localhost), where nothing crosses a network.", err)
	case errors.As(err, &choice):
		at, summary = path.Root("platform"), "Platform Not in the Image"
		if m.Platform.ValueString() == "" {
			at, summary = path.Root("source_image"), "Choose the Image to Copy"
		}
		return at, summary, fmt.Sprintf("%s does not name one image with platform %q.\n\n%v", ref, m.Platform.ValueString(), err)
	case errors.As(err, &digestErr), errors.As(err, &sizeErr):
		return at, "Source Registry Served Other Bytes", fmt.Sprintf("The registry of %s served content that does "+
			"not hash to its digest: %v. Nothing was put in ECR. A registry or proxy in between is corrupting "+
			"data; try again, or copy from another mirror.", ref, err)
	case errors.As(err, &unsupported):
		return at, "Image Not Supported", fmt.Sprintf("%s holds something this provider cannot push: %v.", ref, err)
	}
	detail = fmt.Sprintf("Reading %s failed: %v", ref, err)
	if strings.Contains(err.Error(), "GetAuthorizationToken") {
		detail += "\n\nThe provider's AWS credentials read ECR registries; they need ecr:GetAuthorizationToken."
	}
	return at, "Cannot Read the Source Image", detail
}

// isRemoteFailure reports whether a push failed reading the source
// registry, rather than writing to ECR.
func isRemoteFailure(err error) bool {
	var (
		authErr     *imagesource.RegistryAuthError
		notFound    *imagesource.NotFoundError
		limited     *imagesource.RateLimitError
		tlsErr      *imagesource.TLSError
		unknownHost *imagesource.UnknownHostError
		plainHTTP   *imagesource.PlainHTTPError
		digestErr   *imagesource.DigestMismatchError
		sizeErr     *imagesource.SizeMismatchError
		readErr     *ecrpush.BlobReadError
	)
	return errors.As(err, &authErr) || errors.As(err, &notFound) || errors.As(err, &limited) ||
		errors.As(err, &tlsErr) || errors.As(err, &unknownHost) || errors.As(err, &plainHTTP) ||
		errors.As(err, &digestErr) || errors.As(err, &sizeErr) || errors.As(err, &readErr)
}
