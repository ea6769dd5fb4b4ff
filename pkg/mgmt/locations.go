package mgmt

import "strings"

// azureRegions are the public Azure regions, in ARM's canonical form
// (lower case, no spaces), where registries and resource groups may be
// created. Sovereign clouds' regions (usgov…, china…) are not among them:
// acremu emulates the public cloud.
var azureRegions = []string{
	"eastus", "eastus2", "westus", "westus2", "westus3", "centralus", "northcentralus",
	"southcentralus", "westcentralus", "canadacentral", "canadaeast", "brazilsouth",
	"brazilsoutheast", "mexicocentral", "chilecentral", "northeurope", "westeurope",
	"uksouth", "ukwest", "francecentral", "francesouth", "germanywestcentral",
	"germanynorth", "norwayeast", "norwaywest", "switzerlandnorth", "switzerlandwest",
	"swedencentral", "swedensouth", "polandcentral", "italynorth", "spaincentral",
	"uaenorth", "uaecentral", "qatarcentral", "israelcentral", "southafricanorth",
	"southafricawest", "centralindia", "southindia", "westindia", "jioindiawest",
	"jioindiacentral", "eastasia", "southeastasia", "japaneast", "japanwest",
	"koreacentral", "koreasouth", "australiaeast", "australiasoutheast",
	"australiacentral", "australiacentral2", "newzealandnorth", "indonesiacentral",
	"malaysiawest", "eastus2euap", "centraluseuap",
}

// isAzureRegion reports whether loc names a region, in its canonical form
// or as a display name ("East US"), in any case.
func isAzureRegion(loc string) bool {
	return contains(azureRegions, normalizeLocation(loc))
}

// checkRegistryLocation refuses a registry location that is not a region
// with ARM's LocationNotAvailableForResourceType.
func checkRegistryLocation(loc string) error {
	if isAzureRegion(loc) {
		return nil
	}
	return badRequest("LocationNotAvailableForResourceType",
		"The provided location '%s' is not available for resource type '%s'. List of available regions for the resource type is '%s'.",
		loc, registryType, strings.Join(azureRegions, ","))
}

// checkGroupLocation refuses a resource group location that is not a
// region with ARM's own code and message for resource groups.
func checkGroupLocation(loc string) error {
	if isAzureRegion(loc) {
		return nil
	}
	return badRequest("LocationNotAvailableForResourceGroup",
		"The provided location '%s' is not available for resource group. List of available regions is '%s'.",
		loc, strings.Join(azureRegions, ","))
}
