// Key Vault (RBAC mode) holding the two secrets the app reads through Key Vault references:
// the API key (API_KEY) and the GitHub token the harvester uses for repository_dispatch
// (GITHUB_TOKEN). Values come from secure deployment parameters, never from the repo.
//
// The secrets are created here, not by hand, on purpose: an app setting whose Key Vault
// reference cannot be resolved keeps the literal "@Microsoft.KeyVault(...)" text as its value,
// and for API_KEY that text would be public (it is in this repo).

param name string
param location string
param tags object

@description('Name of the secret holding API_KEY.')
param apiKeyEntryName string

@description('Name of the secret holding GITHUB_TOKEN.')
param dispatchTokenEntryName string

@secure()
@minLength(32)
@description('Value of API_KEY (AUTH_MODE=api_key). At least 32 characters.')
param apiKey string

@secure()
@minLength(1)
@description('GitHub token allowed to send repository_dispatch to githubRepository.')
param githubDispatchToken string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource apiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: apiKeyEntryName
  properties: {
    value: apiKey
    contentType: 'text/plain'
  }
}

resource dispatchTokenSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: dispatchTokenEntryName
  properties: {
    value: githubDispatchToken
    contentType: 'text/plain'
  }
}

// Only the vault name leaves this module (the module's completion also orders the secrets
// before their readers); api.bicep and rbac.bicep look the secrets up as `existing`.
output name string = vault.name
