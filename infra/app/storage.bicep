// One StorageV2 account, Entra ID only (no shared keys, no anonymous blobs, TLS 1.2):
// the Functions host storage (AzureWebJobsStorage), the Flex deployment package container,
// the model store (`models`) and the harvested feedback (`feedback`).

param name string
param location string
param tags object

@description('Container Flex Consumption deploys the app package to.')
param deploymentContainerName string

@description('Container of model bundles and the champion pointer (MODEL_STORE_CONTAINER).')
param modelsContainerName string

@description('Container of harvested feedback (FEEDBACK_CONTAINER).')
param feedbackContainerName string

@description('Containers the Functions host keeps its state in (created here so its role can be scoped to them).')
param hostContainerNames array

@description('Days a deleted blob or container can be restored (rolls back an overwritten model).')
@minValue(1)
@maxValue(365)
param softDeleteDays int = 7

@description('Days harvested feedback (data files and their index partitions) is kept: longer than a retrain looks back (90 days), short enough that a user\'s words do not stay for good.')
@minValue(91)
@maxValue(730)
param feedbackRetentionDays int = 180

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: Flex without VNet integration reaches storage publicly; access is Entra ID only (no keys, no anonymous blobs)
  // checkov:skip=CKV_AZURE_59: same: private endpoints need a VNet and a Premium-priced setup this free-tier deployment does not have
  // checkov:skip=CKV_AZURE_206: LRS on purpose: bundles are rebuilt by retraining, blobs have 7-day soft delete; GRS doubles the price
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    dnsEndpointType: 'Standard'
    minimumTlsVersion: 'TLS1_2'
    publicNetworkAccess: 'Enabled'
    supportsHttpsTrafficOnly: true
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for containerName in concat([deploymentContainerName, modelsContainerName, feedbackContainerName], hostContainerNames): {
    parent: blobService
    name: containerName
    properties: {
      publicAccess: 'None'
    }
  }
]

// Retention of the feedback container: harvested feedback files and the index partitions that
// name them are deleted once older than feedbackRetentionDays. The watermark, the consumed
// generation and the retrain requests (state/*.json, requests/) are small and stay.
resource feedbackRetention 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'feedback-retention'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [ 'blockBlob' ]
              prefixMatch: [
                '${feedbackContainerName}/feedback/'
                '${feedbackContainerName}/state/index/'
              ]
            }
            actions: {
              baseBlob: {
                delete: { daysAfterModificationGreaterThan: feedbackRetentionDays }
              }
            }
          }
        }
      ]
    }
  }
  dependsOn: [ containers ]
}

output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
