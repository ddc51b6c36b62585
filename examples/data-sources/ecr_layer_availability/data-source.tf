# Which of these blobs does the repository have already?
data "ecr_layer_availability" "base" {
  repository_name = "team/app"
  digests = [
    "sha256:3f0a6e3b5c8d1e2f4a7b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f",
    "sha256:9b2c4d6e8f0a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c",
  ]
}

output "missing" {
  value = data.ecr_layer_availability.base.missing # the digests still to push
}

output "has_first" {
  value = data.ecr_layer_availability.base.status["sha256:3f0a6e3b5c8d1e2f4a7b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f"]
}
