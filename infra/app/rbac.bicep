// Every role assignment of the resource group, each at the narrowest scope that works
// (docs/deploy.md, "Roles", says why each one exists):
//
// | principal          | role                           | scope                                     |
// |--------------------|--------------------------------|-------------------------------------------|
// | host identity      | Storage Blob Data Owner        | `azure-webjobs-hosts`, `-secrets` (1)     |
// | host identity      | Storage Blob Data Contributor  | deployment package container              |
// | host identity      | Monitoring Metrics Publisher   | Application Insights                      |
// | app identity       | Storage Blob Data Reader       | `models` container                        |
// | app identity       | Storage Blob Data Contributor  | `feedback` container                      |
// | app identity       | Log Analytics Reader           | workspace (weekly harvest)                |
// | app identity       | Key Vault Secrets User         | each of the three secrets                 |
// | alerts identity    | Log Analytics Reader           | workspace (every log search alert rule)   |
// | retrain (OIDC)     | Storage Blob Data Contributor  | `models`, `feedback` (2)                  |
// | retrain (OIDC)     | Monitoring Metrics Publisher   | Application Insights (3)                  |
//
// (1) AzureWebJobsStorage on Flex keeps timer schedule status and locks in azure-webjobs-hosts
//     and function keys in azure-webjobs-secrets; storage.bicep creates both, so the host needs
//     no account-wide role (the documented Blob Data Owner, scoped to those two containers).
// (2) The retrain workflow publishes bundles and marks feedback consumed.
// (3) Write-only ingestion: the retrain workflow reports each run's outcome as a `retrain_run`
//     log record (shared/monitoring/run_report.py), which the retrain alert counts.
// The GitHub principals that deploy and preview (what-if) get their roles from
// infra/github/access.bicep, deployed once by an administrator.

param storageAccountName string
param deploymentContainerName string
param hostContainerNames array
param modelsContainerName string
param feedbackContainerName string
param applicationInsightsName string
param logAnalyticsName string
param keyVaultName string
param apiKeyEntryName string
param dispatchTokenEntryName string

param hostPrincipalId string
param appPrincipalId string
param alertsPrincipalId string

@description('Object id of the GitHub OIDC principal of retrain.yml; empty to skip.')
param retrainPrincipalId string = ''

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

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: deploymentContainerName
}

resource hostContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = [
  for containerName in hostContainerNames: {
    parent: blobService
    name: containerName
  }
]

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

// Created by keyvault.bicep, read by api.bicep (FEEDBACK_TOKEN_KEY) under this name.
resource feedbackTokenKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  parent: vault
  name: 'feedback-token-key'
}

// --- host identity ----------------------------------------------------------------------------
resource hostContainerOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for i in range(0, length(hostContainerNames)): {
    name: guid(hostContainers[i].id, hostPrincipalId, roles.storageBlobDataOwner)
    scope: hostContainers[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
      principalId: hostPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource hostPackageContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deploymentContainer.id, hostPrincipalId, roles.storageBlobDataContributor)
  scope: deploymentContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
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

resource appFeedbackTokenKeyReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(feedbackTokenKeySecret.id, appPrincipalId, roles.keyVaultSecretsUser)
  scope: feedbackTokenKeySecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// --- alerts identity (every log search alert rule) --------------------------------------------
resource alertsLogReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, alertsPrincipalId, roles.logAnalyticsReader)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.logAnalyticsReader)
    principalId: alertsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// --- GitHub OIDC principal of retrain.yml (environment `retrain`) -----------------------------
// principalType is left out: it may be a service principal (CI) or a user (`azd up`).
resource retrainModelsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(retrainPrincipalId)) {
  name: guid(modelsContainer.id, retrainPrincipalId, roles.storageBlobDataContributor)
  scope: modelsContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: retrainPrincipalId
  }
}

resource retrainFeedbackContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(retrainPrincipalId)) {
  name: guid(feedbackContainer.id, retrainPrincipalId, roles.storageBlobDataContributor)
  scope: feedbackContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: retrainPrincipalId
  }
}

resource retrainMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(retrainPrincipalId)) {
  name: guid(applicationInsights.id, retrainPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: retrainPrincipalId
  }
}
