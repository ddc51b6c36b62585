terraform {
  required_providers {
    ecr = {
      source = "ecrlabs/ecr"
    }
  }
}

# Credentials come from the usual places: environment variables
# (AWS_ACCESS_KEY_ID, AWS_PROFILE, ...), shared files, SSO or instance roles.
provider "ecr" {
  region = "eu-west-1"
}

# Pushing into another account's registry through a role.
provider "ecr" {
  alias  = "shared"
  region = "us-east-1"

  assume_role {
    role_arn     = "arn:aws:iam::210987654321:role/ecr-pusher"
    session_name = "terraform"
  }

  max_retries = 10
  retry_mode  = "adaptive"
}
