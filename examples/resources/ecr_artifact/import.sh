# <repository_name>@<digest>, in the provider's registry and region:
terraform import ecr_artifact.sbom team/app@sha256:3f0a6e3b5c8d1e2f4a7b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f

# By tag, resolved to the digest it names now; <registry_id>/ and
# <region>/<registry_id>/ prefixes work as for ecr_image.
terraform import ecr_artifact.policy team/policies:v3

# artifact_type, subject_digest and annotations are read from the manifest;
# files are not (ECR does not know where they came from): set them in the
# configuration.
