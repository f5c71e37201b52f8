// Every role assignment, each at the narrowest scope that works:
//
// | principal          | role                           | scope                         |
// |--------------------|--------------------------------|-------------------------------|
// | host identity      | Storage Blob Data Owner        | storage account (1)           |
// | host identity      | Monitoring Metrics Publisher   | Application Insights          |
// | app identity       | Storage Blob Data Reader       | `models` container            |
// | app identity       | Storage Blob Data Contributor  | `feedback` container          |
// | app identity       | Log Analytics Reader           | workspace (weekly harvest)    |
// | app identity       | Key Vault Secrets User         | each of the two secrets       |
// | alert rule (MI)    | Log Analytics Reader           | workspace                     |
// | deployer (OIDC)    | Storage Blob Data Contributor  | `models`, `feedback` (2)      |
//
// (1) AzureWebJobsStorage on Flex creates its own containers (host locks, timer schedule
//     status, function keys) and reads the deployment package: the documented role is Blob
//     Data Owner on the account.
// (2) The retrain workflow publishes bundles and marks feedback consumed; it runs as the same
//     GitHub OIDC principal as the deployment. Empty deployerPrincipalId skips both.

param storageAccountName string
param modelsContainerName string
param feedbackContainerName string
param applicationInsightsName string
param logAnalyticsName string
param keyVaultName string
param apiKeyEntryName string
param dispatchTokenEntryName string

param hostPrincipalId string
param appPrincipalId string
param alertPrincipalId string

@description('Object id of the GitHub OIDC principal (deploy + retrain); empty to skip.')
param deployerPrincipalId string = ''

// Built-in role definition ids (tests/code/test_infra_consistency.py pins the names).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  logAnalyticsReader: '73c42c96-874c-492b-b04d-ab87d138a893'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource modelsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: modelsContainerName
}

resource feedbackContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: feedbackContainerName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource apiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  parent: vault
  name: apiKeyEntryName
}

resource dispatchTokenSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  parent: vault
  name: dispatchTokenEntryName
}

// --- host identity ----------------------------------------------------------------------------
resource hostBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, hostPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: hostPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource hostMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, hostPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: hostPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// --- app identity -----------------------------------------------------------------------------
resource appModelsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(modelsContainer.id, appPrincipalId, roles.storageBlobDataReader)
  scope: modelsContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appFeedbackContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(feedbackContainer.id, appPrincipalId, roles.storageBlobDataContributor)
  scope: feedbackContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appLogReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, appPrincipalId, roles.logAnalyticsReader)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.logAnalyticsReader)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appApiKeyReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(apiKeySecret.id, appPrincipalId, roles.keyVaultSecretsUser)
  scope: apiKeySecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appDispatchTokenReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(dispatchTokenSecret.id, appPrincipalId, roles.keyVaultSecretsUser)
  scope: dispatchTokenSecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// --- alert rule identity ----------------------------------------------------------------------
resource alertLogReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, alertPrincipalId, roles.logAnalyticsReader)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.logAnalyticsReader)
    principalId: alertPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// --- GitHub OIDC principal (deploy + retrain) -------------------------------------------------
// principalType is left out: it may be a service principal (CI) or a user (`azd up`).
resource deployerModelsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(modelsContainer.id, deployerPrincipalId, roles.storageBlobDataContributor)
  scope: modelsContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: deployerPrincipalId
  }
}

resource deployerFeedbackContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(feedbackContainer.id, deployerPrincipalId, roles.storageBlobDataContributor)
  scope: feedbackContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: deployerPrincipalId
  }
}
