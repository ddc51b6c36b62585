// Copyright (c) ecrlabs
// SPDX-License-Identifier: MPL-2.0

// Package imagesource reads an image to push to ECR from disk: an OCI image
// layout directory, an OCI layout tarball (a tar of such a directory, which
// is also what Docker 25 and later write with `docker save`), or a legacy
// `docker save` tarball (manifest.json form), optionally gzip-compressed,
// or from a registry (see Registries below).
// It is the only package that imports go-containerregistry.
//
// Open finds what to push and returns a Source that holds the push plan:
// Manifests, in dependency order (the children of an index before the
// index), each with the exact bytes to give to PutImage, and Blobs, every
// distinct config and layer they reference, each readable with ReadAt
// (what internal/ecrpush's Blob takes) and checked against its digest as it
// is read. Digest is the top-level manifest's digest, which is the digest ECR
// will report for the image.
//
// # What Open reads
//
// Open reads index.json (or manifest.json), the manifests it needs and, for
// a legacy tarball, the image configs; it checks that every blob the push
// plan names is in the source with the size its descriptor gives. It never
// reads a layer of an OCI layout, so the digest is known at plan time at the
// cost of a few small files. Manifests are read whole (they are small) and
// checked against their digests at once; the sizes read into memory are
// bounded (maxManifestSize, maxConfigSize). Each manifest is read once per
// Open, however many indexes list it, and closed after reading: the work is
// linear in the files of the source, not in the paths through nested
// indexes, which may nest at most maxIndexDepth deep.
//
// Open reads nothing outside the source, whose own JSON names the files it
// pushes: a directory is read through an os.Root (no name, ".." or symbolic
// link leads out of it), and a tar's names must stay within the image's
// directory in the tar. A name that is absolute or has a ".." element, a
// link out, or a file that is not a regular file (a FIFO, a device) is an
// *UnsafeFileError.
//
// Tarballs are not extracted: Open indexes the tar's members (seeking past
// their contents) and each blob is an io.SectionReader over the tar file. A
// gzip-compressed tarball is first decompressed into a temporary file (in
// Options.TempDir), removed by Close; this reads the whole tarball at every
// Open, so uncompressed tarballs and layout directories are the fast forms.
// The file is named after the process (ecr-imagesource-<pid>-*.tar), and
// Open removes those of processes that are gone, killed before their Close.
// What a gzip stream decompresses to (the tarball here, or a legacy gzip
// layer below) is bounded by maxGunzip, 64 GiB: beyond it, a gzip bomb or
// not, is a *GunzipLimitError.
//
// # Choosing the image
//
// A layout's index.json may list several images. Options.Ref picks one by
// its org.opencontainers.image.ref.name annotation (as skopeo's
// oci:dir:ref), by its io.containerd.image.name annotation (what Docker 25+
// writes beside it), or by digest ("sha256:..."). Without Ref, index.json
// must list exactly one image (entries of one digest are one image);
// otherwise Open fails with a *ChoiceError that lists the candidates (each
// once, the first maxCandidatesShown in its message). In a legacy tarball
// Ref picks by RepoTags.
//
// Options.Platform ("os/arch[/variant]") picks one image manifest from a
// multi-platform index: only that manifest (and its blobs) is pushed, and
// Digest is its digest — what Lambda, which refuses indexes, needs.
// Attestation manifests (platform unknown/unknown, or a
// vnd.docker.reference.type annotation) are never chosen. A platform the
// index does not have is a *ChoiceError listing the platforms it has.
// Without Platform an index is pushed whole, attestation manifests
// included: the index's bytes reference them, ECR refuses an index whose
// children it lacks, and leaving them out would mean rewriting the index,
// changing its digest. When index.json itself lists several platform
// manifests and no Ref, Platform picks among them.
//
// # Referrers
//
// OCI 1.1 referrers (SBOMs, signatures, attestations: manifests whose
// subject field names another manifest) travel with the image: Referrers
// lists those whose subject is a manifest in Manifests or, recursively,
// another referrer taken, each after its subject, to push after Manifests;
// their configs (the OCI empty config "{}" included) and layers are in
// Blobs. Manifests is unchanged by them. Each has Subject and ArtifactType
// (its artifactType, else its config's media type). ReferrerFilter chooses
// them: all by default, None, or only some artifact types, at every level
// (a signature of an SBOM travels only if its type is chosen too; a
// referrer of one left out is left out, as its subject would be missing).
// Chains are at most maxReferrerDepth deep and there are at most
// maxReferrers in all; beyond is an *UnsupportedError. Referrers that are
// indexes are left out.
//
// In a layout (as oras, cosign save and regctl write them), an entry of
// index.json whose manifest names a subject the layout holds is a referrer,
// never an image to choose: a layout of an image and its SBOM needs no ref,
// and a *ChoiceError lists no referrer. One whose subject is not pushed
// (another image's) is left out. An entry whose subject the layout lacks is
// an artifact to push on its own. In a registry, OpenRemote lists the
// referrers of each manifest with the referrers API, else (a registry
// without it) the sha256-<hex> tag cosign and oras keep, and reads each by
// digest, checked as the image's manifests are.
//
// # Legacy docker save tarballs
//
// A legacy `docker save` tarball holds no manifest, only a config and layer
// files (uncompressed tars, from Docker; gzip, from crane and
// go-containerregistry). This package builds a Docker schema 2 manifest for
// it, deterministically (fixed field order, no whitespace, see
// dockerManifest), so that its digest is the same at plan and apply and from
// run to run, on any machine and with any version of this provider:
//
//   - The config is pushed as it is in the tarball, with media type
//     application/vnd.docker.container.image.v1+json.
//   - An uncompressed layer is pushed as it is, with media type
//     application/vnd.docker.image.rootfs.diff.tar; its digest is its
//     diff_id from the config (the sha256 of the uncompressed tar), so the
//     manifest is known without reading the layer, and the layer is checked
//     against it as it is sent. Compressing it instead would make the digest
//     depend on a compressor's output and cost a full compression at every
//     plan.
//   - A gzip layer is pushed as it is, with media type
//     application/vnd.docker.image.rootfs.diff.tar.gzip; its digest is the
//     sha256 of the file, which Open computes by reading it (the tarball does
//     not record it). The manifest is then the one go-containerregistry (and
//     crane) make from the same tarball, so the digests agree. In the same
//     pass Open decompresses it and checks it against its diff_id: a digest
//     computed from the file cannot show the file corrupted, and a layer that
//     does not decompress to its diff_id is a *DiffIDMismatchError, before
//     anything is pushed.
//   - zstd layers are refused (Docker's schema 2 has no media type for them).
//
// Changing dockerManifest changes the digest of every legacy tarball pushed
// before; a test pins its bytes.
//
// # Checking blobs
//
// Blob.Content reads the bytes unchecked: hashing them here would be a
// third pass over every layer (after base64 and SigV4's hash of it). A push
// relies on ECR, which refuses a layer whose bytes do not hash to its digest
// when its upload completes, before any manifest is put, so a corrupted blob
// changes no tag. Source.Verify hashes every blob, for a caller that wants
// to check them before a push. Manifests and configs, read whole at Open,
// are checked against their digests at once.
//
// # Registries
//
// OpenRemote reads an image from an OCI or Docker registry (source_image
// "alpine:3.20", "ghcr.io/org/app@sha256:...") into the same Source, of
// Kind KindRegistry, with the planner layouts use: the same choice of
// platform, nesting bound, size limits and refusals (schema 1). Manifests
// are read whole and checked against their digests; blobs are not read at
// Open: each Blob has Open instead of Content, a GET streamed through
// go-containerregistry's transport (auth challenge, bearer tokens, which go
// only to the registry's host, so a redirect to blob storage elsewhere
// carries none), and checked against its digest by the Read that ends it.
// ResolveRemote is the plan's side: the digest a tag names, by one HEAD.
//
// Credentials come from RemoteOptions.Login, then the Docker config
// (authn.DefaultKeychain: auths, credsStore, credHelpers), then anonymous
// access. Plain HTTP goes only to this machine (localhost, 127.0.0.0/8,
// ::1), checked under the redirects and the token exchange; 429 answers are
// waited out as Retry-After says within RemoteOptions.RetryBudget. Failures
// are named errors (*RegistryAuthError, *NotFoundError, *RateLimitError,
// *TLSError, *UnknownHostError, *PlainHTTPError, *ReferenceError) that name
// the registry and the credential tried, never a secret.
package imagesource
