// Log Analytics workspace, workspace-based Application Insights with local (key) auth disabled,
// and the alert on flagged predictions: a log search rule that runs the very KQL file the weekly
// harvest runs (shared/queries/incorrect_predictions.kql, one row per flagged prediction) and
// emails `alertEmail` when more than 5 rows land in 5 minutes.

param logAnalyticsName string
param applicationInsightsName string
param actionGroupName string
param alertRuleName string
param location string
param tags object

@description('Address emailed when the incorrect-prediction alert fires.')
param alertEmail string

@description('Days Log Analytics keeps data (31 days are included in the ingestion price).')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

@description('Alert when more than this many predictions are flagged within the window.')
param incorrectPredictionThreshold int = 5

// The one definition of "a flagged prediction", shared with shared/feedback/sources.py (QUERY_PATH).
var incorrectPredictionsQuery = loadTextContent('../../shared/queries/incorrect_predictions.kql')

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      disableLocalAuth: true
      enableLogAccessUsingOnlyResourcePermissions: true
    }
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    // Entra ID only: ingestion needs Monitoring Metrics Publisher (see rbac.bicep) and
    // APPLICATIONINSIGHTS_AUTHENTICATION_STRING on the function app.
    DisableLocalAuth: true
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'badbuzz'
    enabled: true
    emailReceivers: [
      {
        name: 'on-call'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource incorrectPredictionsAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: alertRuleName
  location: location
  tags: tags
  kind: 'LogAlert'
  // The rule queries with its own identity (Log Analytics Reader on the workspace, rbac.bicep):
  // no keys anywhere, and nothing depends on the person who deployed it.
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    displayName: 'Bad buzz: more than ${incorrectPredictionThreshold} incorrect predictions in 5 minutes'
    description: 'Users flagged more than ${incorrectPredictionThreshold} predictions as wrong within 5 minutes (AppTraces "incorrect_prediction"). Runbook: docs/deploy.md, "Reading and answering the alert".'
    severity: 2
    enabled: true
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    scopes: [
      workspace.id
    ]
    // AppTraces only exists once the first trace has been ingested.
    skipQueryValidation: true
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: incorrectPredictionsQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: incorrectPredictionThreshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

output workspaceName string = workspace.name
output workspaceCustomerId string = workspace.properties.customerId
output applicationInsightsName string = applicationInsights.name
output alertPrincipalId string = incorrectPredictionsAlert.identity.principalId
