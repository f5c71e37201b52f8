// Three user-assigned identities, so that each role in rbac.bicep means something:
// - host: what the Functions platform needs (AzureWebJobsStorage in its two host containers, the
//   deployment package container, Application Insights ingestion). Nothing in `models` or
//   `feedback`: even code that asks IMDS for the host identity cannot touch a model.
// - app: what our code uses through DefaultAzureCredential (AZURE_CLIENT_ID). It can read the
//   `models` container, write the `feedback` container, query Log Analytics and read two
//   Key Vault secrets, and nothing else: the serving code cannot overwrite a model.
// - alerts: the one identity every log search alert rule queries the workspace with (Log
//   Analytics Reader), so adding a rule needs no new role assignment.
// Both host and app are attached to the function app (Flex needs the host one for storage, Key
// Vault references need the app one): least privilege is enforced by what each may reach.

@description('Name of the identity the Functions host uses.')
param hostIdentityName string

@description('Name of the identity the application code uses (AZURE_CLIENT_ID).')
param appIdentityName string

@description('Name of the identity the log search alert rules query with.')
param alertsIdentityName string

param location string
param tags object

resource hostIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: hostIdentityName
  location: location
  tags: tags
}

resource appIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: appIdentityName
  location: location
  tags: tags
}

resource alertsIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: alertsIdentityName
  location: location
  tags: tags
}

output hostIdentityId string = hostIdentity.id
output hostIdentityClientId string = hostIdentity.properties.clientId
output hostIdentityPrincipalId string = hostIdentity.properties.principalId
output appIdentityId string = appIdentity.id
output appIdentityClientId string = appIdentity.properties.clientId
output appIdentityPrincipalId string = appIdentity.properties.principalId
output alertsIdentityId string = alertsIdentity.id
output alertsIdentityPrincipalId string = alertsIdentity.properties.principalId
