// The deploy principal inside the resource group: Contributor (create and update the resources
// of infra/app), and Role Based Access Control Administrator constrained by a condition to the
// six built-in roles infra/app/rbac.bicep assigns (tests/code/test_infra_consistency.py checks
// that both lists agree), so a stolen deploy token cannot make anyone Owner.

@description('Object id of the service principal the deploy job signs in as.')
param deployPrincipalId string

var contributor = 'b24988ac-6180-42a0-ab88-20f7382dd24c'
var rbacAdministrator = 'f58310d9-a9f6-439a-9e8d-f62e7b41a168'
// Storage Blob Data Owner, Contributor, Reader; Monitoring Metrics Publisher; Log Analytics
// Reader; Key Vault Secrets User.
var delegableRoles = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b, ba92f5b4-2d11-453d-a403-e96b0029c9fe, 2a2b9908-6ea1-4ae2-8e65-a410df84e7d1, 3913510d-42f4-4e42-8a64-420c390055eb, 73c42c96-874c-492b-b04d-ab87d138a893, 4633458b-17de-408a-b874-0445c86b69e6'
var delegationCondition = '((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/write\'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${delegableRoles}})) AND ((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/delete\'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${delegableRoles}}))'

resource deployContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, deployPrincipalId, contributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', contributor)
    principalId: deployPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource deployRoleDelegation 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, deployPrincipalId, rbacAdministrator)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', rbacAdministrator)
    principalId: deployPrincipalId
    principalType: 'ServicePrincipal'
    condition: delegationCondition
    conditionVersion: '2.0'
  }
}
