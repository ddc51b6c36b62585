// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

package provider

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/ecrlabs/terraform-provider-ecr/internal/ecrpush"
	"github.com/ecrlabs/terraform-provider-ecr/internal/imagesource"
)

// Wording for ecr_image: what is wrong with a source on disk (reported on
// the argument to fix), and what went wrong pushing it.

// explainSourceFailure words an error from imagesource.Open, with the
// argument it is about: source, ref or platform.
func explainSourceFailure(source string, opts imagesource.Options, err error) (at path.Path, summary, detail string) {
	where := fmt.Sprintf("%q", source)
	if abs, _ := filepath.Abs(source); abs != "" && abs != source {
		where += fmt.Sprintf(" (%q)", abs)
	}
	var (
		notImage    *imagesource.NotImageError
		choice      *imagesource.ChoiceError
		missing     *imagesource.MissingError
		sizeErr     *imagesource.SizeMismatchError
		digestErr   *imagesource.DigestMismatchError
		unsupported *imagesource.UnsupportedError
		unsafeFile  *imagesource.UnsafeFileError
		diffIDErr   *imagesource.DiffIDMismatchError
	)
	switch {
	case errors.As(err, &choice):
		at = path.Root("ref")
		summary = "Choose the Image to Push"
		if opts.Platform != "" && strings.Contains(choice.Problem, "platform") {
			at, summary = path.Root("platform"), "Platform Not in the Image"
		}
		return at, summary, fmt.Sprintf("The source %s does not name one image with the ref and platform given "+
			"(ref %q, platform %q).\n\n%v", where, opts.Ref, opts.Platform, err)
	case errors.As(err, &notImage):
		return path.Root("source"), "Not an Image", fmt.Sprintf("The source %s is not an image this provider reads: "+
			"%s. source must be an OCI image layout directory (with index.json and blobs/), a tarball of one, or a "+
			"docker save tarball, and must exist when the plan is made: the image's digest is part of the plan.",
			where, notImage.Why)
	case errors.As(err, &missing):
		return path.Root("source"), "Image Incomplete", fmt.Sprintf("The source %s lacks part of the image: %v. "+
			"Write the image again (a copy interrupted, or a layout whose blobs were pruned, is the usual cause).", where, err)
	case errors.As(err, &sizeErr), errors.As(err, &digestErr), errors.As(err, &diffIDErr):
		return path.Root("source"), "Image Corrupted", fmt.Sprintf("The source %s is corrupted: %v. Nothing was "+
			"pushed. Write the image again.", where, err)
	case errors.As(err, &unsafeFile):
		return path.Root("source"), "Image Names an Unsafe File", fmt.Sprintf("The source %s names %q, which "+
			"this provider refuses to read: %s. The files of an image are all within it, and regular files; a name "+
			"that leads elsewhere (\"..\", an absolute path, a symbolic link out of it) or to a pipe or device could "+
			"send another file of this machine to ECR. Nothing was pushed; write the image again with a tool you "+
			"trust.", where, unsafeFile.Name, unsafeFile.Why)
	case errors.As(err, &unsupported):
		return path.Root("source"), "Image Not Supported", fmt.Sprintf("The source %s holds something this provider "+
			"cannot push: %s.", where, unsupported.What)
	case errors.Is(err, fs.ErrPermission):
		return path.Root("source"), "Cannot Read the Image", fmt.Sprintf("The source %s cannot be read: permission "+
			"denied.\n\n%v", where, err)
	default:
		return path.Root("source"), "Cannot Read the Image", fmt.Sprintf("The source %s could not be read as an "+
			"image.\n\n%v", where, err)
	}
}

// explainImagePushFailure words an error from pushing an image: a corrupted
// blob, a refused tag, a manifest whose references are missing, or what
// explainPushFailure says of the engine's other errors.
func explainImagePushFailure(err error, accountID string) (summary, detail string) {
	var (
		srcMismatch *imagesource.DigestMismatchError
		mismatch    *ecrpush.DigestMismatchError
		conflict    *ecrpush.TagConflictError
		missingRefs *ecrpush.MissingReferencesError
		notFound    *ecrpush.ImageNotFoundError
		deleteErr   *ecrpush.DeleteImageError
	)
	switch {
	case errors.As(err, &srcMismatch):
		return "Image Corrupted", fmt.Sprintf("A blob of the image does not match its digest: %v. No manifest was "+
			"put, so no tag changed; write the image again.\n\n%v", srcMismatch, err)
	case errors.As(err, &mismatch):
		what := fmt.Sprintf("hashes to %s, not to %s, the digest its manifest gives", mismatch.Got, mismatch.Want)
		if mismatch.Got == "" {
			what = fmt.Sprintf("does not hash to %s, the digest its manifest gives (ECR refused it when its upload "+
				"completed)", mismatch.Want)
		}
		return "Image Corrupted", fmt.Sprintf("A blob of the image (%d bytes) %s: the source is corrupted, or changed "+
			"while it was read. No manifest was put, so no tag changed; write the image again.\n\n%v", mismatch.Size, what, err)
	case errors.As(err, &conflict):
		current, mutability := conflict.Current, conflict.Mutability
		if current == "" {
			current = "another image (the look-up failed)"
		}
		if mutability == "" {
			mutability = "immutable (the look-up of the exact setting failed)"
		}
		if len(conflict.ExclusionFilters) > 0 {
			mutability += fmt.Sprintf(", exclusion filters %s", quoted(conflict.ExclusionFilters))
		}
		detail := fmt.Sprintf("Repository %q refused the tag %q for image %s: the tag points at %s, and the repository's "+
			"imageTagMutability is %s, so ECR does not move it. Use another tag, remove the tag from that image "+
			"(it cannot be overwritten, but it can be deleted), or make the repository's tags mutable.",
			conflict.Target.Repository, conflict.Tag, conflict.Digest, current, mutability)
		if conflict.LookupErr != nil {
			detail += "\n\nLooking up the tag and the setting failed: " + conflict.LookupErr.Error()
		}
		return "Image Tag Already Exists", detail + "\n\n" + conflict.Err.Error()
	case errors.As(err, &missingRefs):
		return "ECR Lacks Part of the Image", fmt.Sprintf("ECR refused manifest %s (%s): %s. The provider pushes every "+
			"blob and child manifest first, so they disappeared in between (a lifecycle policy, or someone deleting "+
			"images at the same time). Apply again.\n\n%v", missingRefs.Manifest, missingRefs.Code, missingRefs.Message, err)
	case errors.As(err, &notFound):
		return "Image Not Found in ECR", fmt.Sprintf("%v. It was deleted outside Terraform while the apply ran; run "+
			"plan again, and the image is pushed again.", err)
	case errors.As(err, &deleteErr):
		return "ECR Kept the Image", fmt.Sprintf("BatchDeleteImage did not delete everything asked: %v", err)
	}
	summary, detail = explainPushFailure(err, accountID)
	if summary == "Layer Push Failed" {
		summary = "Image Push Failed"
	}
	return summary, detail
}
