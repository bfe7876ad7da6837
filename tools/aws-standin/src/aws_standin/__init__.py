"""A stand-in for the hashicorp/aws Terraform provider: the real schema, plans, no AWS."""
