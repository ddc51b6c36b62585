# <repository_name>@<digest>, in the provider's registry and region:
terraform import ecr_image.app team/app@sha256:3f0a6e3b5c8d1e2f4a7b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f

# In another registry: <registry_id>/<repository_name>@<digest>
terraform import ecr_image.app 123456789012/team/app@sha256:3f0a6e3b5c8d1e2f4a7b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f

# In another region as well: <region>/<registry_id>/<repository_name>@<digest>
terraform import ecr_image.app us-east-1/123456789012/team/app@sha256:3f0a6e3b5c8d1e2f4a7b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f

# By tag: <repository_name>:<tag>, resolved to the digest the tag names now
# (the same prefixes for another registry or region apply)
terraform import ecr_image.app team/app:v1.4.2

# An imported image adopts every tag it has; set tags to the ones this
# resource should manage. source is not imported: set it in the configuration.
