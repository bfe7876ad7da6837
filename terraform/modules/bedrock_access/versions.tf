terraform {
  # No provider: the caller passes its account, partition and Region.
  required_version = ">= 1.11"
}
