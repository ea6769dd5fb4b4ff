# A resource group and a Premium registry whose firewall admits one IP
# range, as e2e/terraform_test.go applies it against acremu. The provider
# version is pinned by the test (-var is not allowed in required_providers),
# through versions.tf, which it writes next to this file.

variable "metadata_host" {
  type = string
}

variable "ip_range" {
  type = string
}

variable "public_network_access_enabled" {
  type    = bool
  default = true
}

provider "azurerm" {
  features {}
  # Registration on, as in provider v4 (newer versions default to "none"):
  # the provider lists and registers resource providers first.
  resource_provider_registrations = "core"
  metadata_host                   = var.metadata_host
  tenant_id                       = "22222222-2222-2222-2222-222222222222"
  subscription_id                 = "11111111-1111-1111-1111-111111111111"
  client_id                       = "33333333-3333-3333-3333-333333333333"
  client_secret                   = "acremu-dev-secret"
}

resource "azurerm_resource_group" "rg" {
  name     = "tf-rg"
  location = "westeurope"
}

resource "azurerm_container_registry" "acr" {
  name                          = "tfregistry01"
  resource_group_name           = azurerm_resource_group.rg.name
  location                      = azurerm_resource_group.rg.location
  sku                           = "Premium"
  admin_enabled                 = true
  public_network_access_enabled = var.public_network_access_enabled

  network_rule_set {
    default_action = "Deny"
    ip_rule {
      action   = "Allow"
      ip_range = var.ip_range
    }
  }
}

output "login_server" {
  value = azurerm_container_registry.acr.login_server
}

output "admin_username" {
  value = azurerm_container_registry.acr.admin_username
}

output "admin_password" {
  value     = azurerm_container_registry.acr.admin_password
  sensitive = true
}
