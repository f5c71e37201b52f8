// What the two GitHub sign-in principals may do in Azure, deployed ONCE by an administrator
// (Owner or User Access Administrator), before the first `deploy.yml` run:
//   az deployment sub create --location <region> --template-file infra/github/access.bicep \
//     --parameters environmentName=prod location=<region> whatIfPrincipalId=<id> deployPrincipalId=<id>
// The third principal (retrain.yml) needs no subscription role: infra/app/rbac.bicep gives it
// Blob Data Contributor on `models` and `feedback` (and telemetry ingestion), nothing else.
//
// | principal (GitHub environment)  | role                                     | scope                   |
// |---------------------------------|------------------------------------------|-------------------------|
// | what-if (`preview`)             | bad-buzz what-if (custom: */read,        | subscription            |
// |                                 |   deployments/whatIf, deployments/validate) |                      |
// | deploy (`production`)           | bad-buzz subscription deployment (custom: | subscription           |
// |                                 |   deployments/*, resourceGroups/read)    |                         |
// | deploy (`production`)           | Contributor                              | resource group rg-<env> |
// | deploy (`production`)           | Role Based Access Control Administrator, | resource group rg-<env> |
// |                                 |   only for the 6 roles of rbac.bicep     |                         |
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Same environment name as infra/main.bicep (the resource group is rg-<environmentName>).')
param environmentName string

@minLength(1)
@description('Region of the resource group (same as infra/main.bicep).')
param location string

@description('Object id of the service principal the pull-request what-if job signs in as.')
param whatIfPrincipalId string

@description('Object id of the service principal the deploy job signs in as.')
param deployPrincipalId string

var abbrs = loadJsonContent('../abbreviations.json')
var resourceGroupName = '${abbrs.resourcesResourceGroups}${environmentName}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: resourceGroupName
  location: location
  tags: {
    'azd-env-name': environmentName
    application: 'bad-buzz'
  }
}

// Read everything, predict a deployment, change nothing. Reader alone cannot run what-if.
resource whatIfRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'bad-buzz-what-if')
  properties: {
    roleName: 'bad-buzz what-if (${subscription().subscriptionId})'
    description: 'Runs az deployment sub what-if for bad buzz pull requests; cannot change anything.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          '*/read'
          'Microsoft.Resources/deployments/whatIf/action'
          'Microsoft.Resources/deployments/validate/action'
        ]
        notActions: []
      }
    ]
    assignableScopes: [
      subscription().id
    ]
  }
}

// A subscription-scope deployment record (main.bicep is one); what it deploys is limited by the
// resource-group roles below.
resource subscriptionDeploymentRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'bad-buzz-subscription-deployment')
  properties: {
    roleName: 'bad-buzz subscription deployment (${subscription().subscriptionId})'
    description: 'Creates the subscription-scope deployment of infra/main.bicep; nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Resources/deployments/*'
          'Microsoft.Resources/subscriptions/resourceGroups/read'
        ]
        notActions: []
      }
    ]
    assignableScopes: [
      subscription().id
    ]
  }
}

resource whatIfAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, whatIfPrincipalId, whatIfRole.id)
  properties: {
    roleDefinitionId: whatIfRole.id
    principalId: whatIfPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource deploySubscriptionAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, deployPrincipalId, subscriptionDeploymentRole.id)
  properties: {
    roleDefinitionId: subscriptionDeploymentRole.id
    principalId: deployPrincipalId
    principalType: 'ServicePrincipal'
  }
}

module resourceGroupAccess 'access-rg.bicep' = {
  name: 'bad-buzz-github-access'
  scope: rg
  params: {
    deployPrincipalId: deployPrincipalId
  }
}
