// Bad buzz: everything the serving side needs, from zero, in one subscription deployment.
//   az deployment sub create --location <region> --template-file infra/main.bicep \
//     --parameters <main.parameters.json with its ${VARS} filled in>      (or simply: azd up)
// Layout after Azure-Samples/functions-quickstart-python-http-azd: one module per concern in
// infra/app, names = abbreviation + resourceToken. Plain resources with pinned API versions
// (no registry modules), so the whole template can be read and reviewed offline.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the environment (e.g. prod); seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource; must offer Flex Consumption (az functionapp list-flexconsumption-locations).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group to create; default rg-<environmentName>.')
param resourceGroupName string = ''

@description('Object id of the principal retrain.yml signs in as (Blob Data Contributor on models and feedback, Monitoring Metrics Publisher on App Insights). Empty: no assignment.')
param retrainPrincipalId string = ''

@description('Address every alert emails (action group).')
param alertEmail string

@description('owner/name of this GitHub repository (its retrain.yml is dispatched by the harvest).')
param githubRepository string

@secure()
@minLength(32)
@description('API key clients send as x-api-key (AUTH_MODE=api_key); stored in Key Vault.')
param apiKey string

@secure()
@minLength(1)
@description('Fine-grained GitHub token with Actions: write on githubRepository (workflow_dispatch); stored in Key Vault.')
param githubDispatchToken string

@description('NCRONTAB (6 fields, UTC) of the weekly harvest. Default: Monday 03:00.')
param harvestSchedule string = '0 0 3 * * 1'

@minValue(1)
@description('Unconsumed flagged predictions that trigger a retrain.')
param retrainThreshold int = 100

@minValue(0)
@description('Seconds between two checks of the champion pointer (0 = never).')
param modelRefreshSeconds int = 300

@description('Translate non-English tweets before scoring (calls the internet).')
param translationEnabled bool = true

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  application: 'bad-buzz'
}

var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var modelsContainerName = 'models'
var feedbackContainerName = 'feedback'
// Where the Functions host keeps timer status, locks and keys (AzureWebJobsStorage on Flex).
var hostContainerNames = [
  'azure-webjobs-hosts'
  'azure-webjobs-secrets'
]
var apiKeyEntryName = 'api-key'
var dispatchTokenEntryName = 'github-dispatch-token'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    hostIdentityName: '${abbrs.managedIdentityUserAssignedIdentities}host-${resourceToken}'
    appIdentityName: '${abbrs.managedIdentityUserAssignedIdentities}app-${resourceToken}'
    alertsIdentityName: '${abbrs.managedIdentityUserAssignedIdentities}alerts-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    modelsContainerName: modelsContainerName
    feedbackContainerName: feedbackContainerName
    hostContainerNames: hostContainerNames
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    actionGroupName: '${abbrs.insightsActionGroups}${resourceToken}'
    alertNamePrefix: abbrs.insightsScheduledQueryRules
    resourceToken: resourceToken
    workbookName: '${abbrs.insightsWorkbooks}${resourceToken}'
    alertsIdentityId: identity.outputs.alertsIdentityId
    location: location
    tags: tags
    alertEmail: alertEmail
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    apiKeyEntryName: apiKeyEntryName
    dispatchTokenEntryName: dispatchTokenEntryName
    apiKey: apiKey
    githubDispatchToken: githubDispatchToken
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    modelsContainerName: modelsContainerName
    feedbackContainerName: feedbackContainerName
    hostIdentityId: identity.outputs.hostIdentityId
    hostIdentityClientId: identity.outputs.hostIdentityClientId
    appIdentityId: identity.outputs.appIdentityId
    appIdentityClientId: identity.outputs.appIdentityClientId
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceCustomerId
    keyVaultName: keyVault.outputs.name
    apiKeyEntryName: apiKeyEntryName
    dispatchTokenEntryName: dispatchTokenEntryName
    githubRepository: githubRepository
    harvestSchedule: harvestSchedule
    retrainThreshold: retrainThreshold
    modelRefreshSeconds: modelRefreshSeconds
    translationEnabled: translationEnabled
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    hostContainerNames: hostContainerNames
    modelsContainerName: modelsContainerName
    feedbackContainerName: feedbackContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    logAnalyticsName: monitoring.outputs.workspaceName
    keyVaultName: keyVault.outputs.name
    apiKeyEntryName: apiKeyEntryName
    dispatchTokenEntryName: dispatchTokenEntryName
    hostPrincipalId: identity.outputs.hostIdentityPrincipalId
    appPrincipalId: identity.outputs.appIdentityPrincipalId
    alertsPrincipalId: identity.outputs.alertsIdentityPrincipalId
    retrainPrincipalId: retrainPrincipalId
  }
}

// Read by azd and by .github/workflows/deploy.yml (no secret among them).
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
output MODEL_STORE_ACCOUNT_URL string = storage.outputs.blobEndpoint
output MODEL_STORE_CONTAINER string = modelsContainerName
output FEEDBACK_CONTAINER string = feedbackContainerName
output LOG_ANALYTICS_WORKSPACE_ID string = monitoring.outputs.workspaceCustomerId
// For retrain.yml's run report (ingestion needs an Entra token too: local auth is disabled).
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.applicationInsightsConnectionString
