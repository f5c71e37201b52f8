// Two user-assigned identities, so that each role below means something:
// - host: what the Functions platform needs (AzureWebJobsStorage, the deployment package,
//   Application Insights ingestion). It is Storage Blob Data Owner on the whole account.
// - app: what our code uses through DefaultAzureCredential (AZURE_CLIENT_ID). It can read the
//   `models` container, write the `feedback` container, query Log Analytics and read two
//   Key Vault secrets, and nothing else: the serving code cannot overwrite a model.

@description('Name of the identity the Functions host uses.')
param hostIdentityName string

@description('Name of the identity the application code uses (AZURE_CLIENT_ID).')
param appIdentityName string

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

output hostIdentityId string = hostIdentity.id
output hostIdentityClientId string = hostIdentity.properties.clientId
output hostIdentityPrincipalId string = hostIdentity.properties.principalId
output appIdentityId string = appIdentity.id
output appIdentityClientId string = appIdentity.properties.clientId
output appIdentityPrincipalId string = appIdentity.properties.principalId
