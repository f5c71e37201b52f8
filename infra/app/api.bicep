// The serving side: a Flex Consumption (FC1, Linux) plan and one Python 3.11 function app
// (function_app.py: the FastAPI app behind func.AsgiFunctionApp, plus the weekly harvest timer).
// Every app setting the code reads is a field of shared/settings.py; the appSettings object below
// is checked against that class by tests/code/test_infra_consistency.py.

param name string
param planName string
param location string
param tags object

@description('azd service name (azure.yaml) this app is deployed as.')
param serviceName string = 'api'

param storageAccountName string
param deploymentContainerName string
param modelsContainerName string
param feedbackContainerName string

param hostIdentityId string
param hostIdentityClientId string
param appIdentityId string
param appIdentityClientId string

param applicationInsightsName string

@description('Log Analytics workspace (customer) id the harvest queries.')
param logAnalyticsWorkspaceId string

param keyVaultName string
param apiKeyEntryName string
param dispatchTokenEntryName string

@description('owner/name of the GitHub repository whose retrain workflow the harvester dispatches.')
param githubRepository string

@description('NCRONTAB (6 fields, UTC) of the weekly harvest timer.')
param harvestSchedule string

@minValue(1)
param retrainThreshold int

@minValue(0)
param modelRefreshSeconds int

param translationEnabled bool

@description('Upper bound of Flex instances (cost ceiling).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of one instance; onnxruntime and the bundle fit in 2048 MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

// The Functions host's own cap on a request body (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, default
// 100 MB), lowered to just above the API's cap (shared/api/middleware.py MAX_BODY_BYTES =
// 601,324 bytes: 100 texts of 500 characters, each JSON-escaped as a 12-byte surrogate pair, plus
// 1 KB), so a larger body is refused before the worker buffers it while the API still answers
// every body up to its own cap (and its own JSON 413 above it, up to this limit).
// tests/code/test_infra_consistency.py keeps it within 64 KiB above MAX_BODY_BYTES.
@description('Largest request body the Functions host accepts, in bytes (640 KiB).')
@minValue(65536)
@maxValue(104857600)
param requestBodyLimitBytes int = 655360

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
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

// Made by keyvault.bicep under this name, a new version at each deployment: the app setting
// pins that version, so a deployment moves every instance to the new key together.
resource feedbackTokenKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  parent: vault
  name: 'feedback-token-key'
}

// Flex Consumption sets the runtime from functionAppConfig.runtime: FUNCTIONS_WORKER_RUNTIME and
// FUNCTIONS_EXTENSION_VERSION must NOT be app settings there (the deployment is rejected).
var appSettings = {
  // --- Functions platform (not Settings fields) ---------------------------------------------
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: hostIdentityClientId
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${hostIdentityClientId};Authorization=AAD'
  PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY: 'true'
  PYTHON_ENABLE_OPENTELEMETRY: 'true'
  FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: string(requestBodyLimitBytes)
  // DefaultAzureCredential in our code picks the app identity from this variable.
  AZURE_CLIENT_ID: appIdentityClientId

  // --- shared/settings.py fields ---------------------------------------------------------------
  // model store: blob over managed identity (no connection string: shared keys are disabled)
  MODEL_STORE_ACCOUNT_URL: storage.properties.primaryEndpoints.blob
  MODEL_STORE_CONTAINER: modelsContainerName
  // the package (wwwroot) is read-only on Flex: the bundle cache lives in /tmp
  MODEL_CACHE_DIR: '/tmp/bad-buzz/model-cache'
  MODEL_REFRESH_SECONDS: string(modelRefreshSeconds)
  // serving
  AUTH_MODE: 'api_key'
  API_KEY: '@Microsoft.KeyVault(SecretUri=${apiKeySecret.properties.secretUri})'
  TRANSLATION_ENABLED: translationEnabled ? 'true' : 'false'
  TRANSLATION_TIMEOUT_SECONDS: '1.5'
  // feedback loop
  FEEDBACK_BACKEND: 'appinsights'
  FEEDBACK_TOKEN_KEY: '@Microsoft.KeyVault(SecretUri=${feedbackTokenKeySecret.properties.secretUriWithVersion})'
  FEEDBACK_TOKEN_KEY_PATH: '/tmp/bad-buzz/feedback-token.key' // unused while FEEDBACK_TOKEN_KEY resolves
  FEEDBACK_MAX_PER_HOUR: '120'
  FEEDBACK_CONTAINER: feedbackContainerName
  LOG_ANALYTICS_WORKSPACE_ID: logAnalyticsWorkspaceId
  HARVEST_SCHEDULE: harvestSchedule
  RETRAIN_THRESHOLD: string(retrainThreshold)
  GITHUB_REPOSITORY: githubRepository
  GITHUB_TOKEN: '@Microsoft.KeyVault(SecretUri=${dispatchTokenSecret.properties.secretUri})'
  GITHUB_RETRAIN_WORKFLOW: 'retrain.yml'
  GITHUB_REF: 'main'
  // telemetry (also read by the Functions host and the worker's exporter)
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  // the local prediction-event store is off: the spans and the workbook do its job in Azure
  PREDICTION_EVENTS_MAX: '0'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy on Flex needs always-ready instances, billed around the clock; this deployment is on-demand
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: a public API and page by design; predict and feedback need the API key
  // checkov:skip=CKV_AZURE_17: callers are browsers and scripts with an API key, not holders of client certificates
  // checkov:skip=CKV_AZURE_213: App Service health check is for Premium/Dedicated plans, not Flex; the model-health alert watches /api/health's state instead
  // checkov:skip=CKV_AZURE_212: Flex scales from zero on demand; a minimum instance (always ready) is billed around the clock
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${hostIdentityId}': {}
      '${appIdentityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references (API_KEY, GITHUB_TOKEN) resolve with the app identity.
    keyVaultReferenceIdentity: appIdentityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        for setting in items(appSettings): {
          name: setting.key
          value: setting.value
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: hostIdentityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// Deployments go through Entra ID (azure/login + OIDC), never through publishing passwords.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

output name string = functionApp.name
output uri string = 'https://${functionApp.properties.defaultHostName}'
