variable "db_password" {
  type      = string
  sensitive = true
}

variable "generation" {
  type = number
}

resource "terraform_data" "config" {
  input = {
    name     = "qa-service"
    password = var.db_password
    replicas = var.generation
  }
}

resource "terraform_data" "keep" {
  input = "stays-${var.generation > 1 ? "two" : "one"}"
}

resource "terraform_data" "replaced" {
  input            = "fixed"
  triggers_replace = [var.generation]
}

resource "terraform_data" "removed" {
  count = var.generation > 1 ? 0 : 1
  input = "goes away"
}

resource "terraform_data" "added" {
  count = var.generation > 1 ? 1 : 0
  input = sensitive("added-secret-${var.generation}")
}

output "connection" {
  value     = "postgres://app:${var.db_password}@db:5432/qa"
  sensitive = true
}

output "generation" {
  value = var.generation
}
