// Key Vault (RBAC mode) holding the two secrets the app reads through Key Vault references:
// the API key (API_KEY) and the GitHub token the harvester uses for workflow_dispatch (Actions: write)
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
@description('Fine-grained GitHub token with Actions: write on githubRepository (workflow_dispatch).')
param githubDispatchToken string

// The HMAC key of feedback tokens (FEEDBACK_TOKEN_KEY, shared/feedback/token.py): random, made
// here at each deployment (newGuid is only allowed as a parameter default), so every deployment
// rotates it; tokens issued before a deployment then stop working (they live 24 h at most).
@secure()
// checkov:skip=CKV_AZURE_131: the default is newGuid() twice, a fresh random value at each deployment, not a literal
@description('Value of FEEDBACK_TOKEN_KEY; leave unset: a fresh random key at each deployment.')
param feedbackTokenKey string = '${newGuid()}${newGuid()}'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: Flex without VNet resolves Key Vault references over the public endpoint; access is RBAC per secret
  // checkov:skip=CKV_AZURE_189: same reason: a private endpoint needs a VNet this free-tier deployment does not have
  // checkov:skip=CKV_AZURE_110: both secrets are copies of GitHub secrets (the source of truth); purge protection would hold the name 7+ days after `azd down`
  // checkov:skip=CKV_AZURE_42: soft delete is on (7 days); "recoverable" also demands purge protection, see CKV_AZURE_110
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
  // checkov:skip=CKV_AZURE_41: the lifetime lives elsewhere (API key rotated from GitHub, token expiry set on GitHub); an exp here stops the Key Vault reference resolving
  parent: vault
  name: apiKeyEntryName
  properties: {
    value: apiKey
    contentType: 'text/plain'
  }
}

resource dispatchTokenSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: the lifetime lives elsewhere (API key rotated from GitHub, token expiry set on GitHub); an exp here stops the Key Vault reference resolving
  parent: vault
  name: dispatchTokenEntryName
  properties: {
    value: githubDispatchToken
    contentType: 'text/plain'
  }
}

resource feedbackTokenKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: rotated at every deployment (a new version); an exp here stops the Key Vault reference resolving
  parent: vault
  name: 'feedback-token-key' // api.bicep reads it by this name
  properties: {
    value: feedbackTokenKey
    contentType: 'text/plain'
  }
}

// Only the vault name leaves this module (the module's completion also orders the secrets
// before their readers); api.bicep and rbac.bicep look the secrets up as `existing`.
output name string = vault.name
