// Log Analytics workspace, workspace-based Application Insights with local (key) auth disabled,
// one action group (email) and every alert, each a log search rule running a KQL file of
// shared/queries/ as is (tests/code/test_kql.py parses each against the tables' schema):
// - incorrect predictions: the very file the weekly harvest runs (one row per flagged prediction);
//   more than 5 rows in 5 minutes;
// - bad buzz (bad_buzz.kql): a burst of negative predictions against the same hours of the day
//   before (the rule is in the file's header, mirrored by shared/monitoring/buzz.py);
// - the loop: harvest failed or not done this week (loop_harvest.kql), retrain failed
//   (loop_retrain.kql), model unavailable or degraded for 15 minutes (model_health.kql);
// and a workbook: predictions, negative share, feedback, model version, harvest and retrain runs.
// Every rule queries with one user-assigned identity (Log Analytics Reader, rbac.bicep).

param logAnalyticsName string
param applicationInsightsName string
param actionGroupName string
param workbookName string

@description('Name prefix of the alert rules (abbreviation); each rule is <prefix><what>-<resourceToken>.')
param alertNamePrefix string
param resourceToken string

@description('Resource id of the user-assigned identity every alert rule queries with.')
param alertsIdentityId string
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

// Each returns one row per problem; the rule fires on any row. timeRange (overrideQueryTimeRange):
// how far back the query sees; a log search alert sees at most 2 days.
var loopAlerts = [
  {
    name: 'bad-buzz'
    displayName: 'Bad buzz: negative tweets well above their usual level'
    description: 'The last 15 minutes hold at least max(25, mean + 3 sd) negative predictions and a negative share 15 points above the same hours of the day before (shared/queries/bad_buzz.kql). Runbook: docs/deploy.md, "Answering the bad-buzz alert".'
    query: loadTextContent('../../shared/queries/bad_buzz.kql')
    severity: 1
    frequency: 'PT15M'
    window: 'PT15M'
    timeRange: 'P2D'
  }
  {
    name: 'harvest'
    displayName: 'Feedback loop: the weekly harvest failed or did not run'
    description: 'A harvest run failed, or no harvest succeeded since Monday 03:00 UTC (shared/queries/loop_harvest.kql). Runbook: docs/deploy.md, "Answering the loop alerts".'
    query: loadTextContent('../../shared/queries/loop_harvest.kql')
    severity: 2
    frequency: 'PT1H'
    window: 'PT1H'
    timeRange: 'P2D'
  }
  {
    name: 'retrain'
    displayName: 'Feedback loop: a retrain run failed'
    description: 'The retrain workflow reported a run that did not succeed (shared/queries/loop_retrain.kql). Runbook: docs/deploy.md, "Answering the loop alerts".'
    query: loadTextContent('../../shared/queries/loop_retrain.kql')
    severity: 2
    frequency: 'PT15M'
    window: 'PT15M'
    timeRange: ''
  }
  {
    name: 'model-health'
    displayName: 'Serving: no model, or a degraded one for 15 minutes'
    description: 'An instance reports its model unavailable, or degraded for 15 minutes (shared/queries/model_health.kql). Runbook: docs/deploy.md, "Answering the loop alerts".'
    query: loadTextContent('../../shared/queries/model_health.kql')
    severity: 1
    frequency: 'PT5M'
    window: 'PT1H'
    timeRange: ''
  }
]

// The workbook's charts (each query a file of shared/queries/, parsed by the tests).
var workbookCharts = [
  {
    title: 'Predictions and negative predictions per 15 minutes'
    query: loadTextContent('../../shared/queries/workbook_predictions.kql')
    visualization: 'timechart'
  }
  {
    title: 'Feedback per hour: corrections and confirmations'
    query: loadTextContent('../../shared/queries/workbook_feedback.kql')
    visualization: 'barchart'
  }
  {
    title: 'Served model version (predictions per hour)'
    query: loadTextContent('../../shared/queries/workbook_model_version.kql')
    visualization: 'barchart'
  }
  {
    title: 'Harvest and retrain runs'
    query: loadTextContent('../../shared/queries/workbook_loop_runs.kql')
    visualization: 'table'
  }
]
// Workbook items (a for-expression cannot sit inside string(), hence this variable).
var workbookItems = [
  for (chart, i) in workbookCharts: {
    type: 3
    name: 'chart-${i}'
    content: {
      version: 'KqlItem/1.0'
      title: chart.title
      query: chart.query
      size: 0
      queryType: 0
      resourceType: 'microsoft.operationalinsights/workspaces'
      visualization: chart.visualization
      timeContext: {
        durationMs: 1209600000 // 14 days
      }
    }
  }
]

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
  name: '${alertNamePrefix}incorrect-predictions-${resourceToken}'
  location: location
  tags: tags
  kind: 'LogAlert'
  // The rule queries with the alerts identity (Log Analytics Reader on the workspace, rbac.bicep):
  // no keys anywhere, and nothing depends on the person who deployed it.
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${alertsIdentityId}': {}
    }
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

resource loopAlertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for rule in loopAlerts: {
    name: '${alertNamePrefix}${rule.name}-${resourceToken}'
    location: location
    tags: tags
    kind: 'LogAlert'
    identity: {
      type: 'UserAssigned'
      userAssignedIdentities: {
        '${alertsIdentityId}': {}
      }
    }
    properties: {
      displayName: rule.displayName
      description: rule.description
      severity: rule.severity
      enabled: true
      evaluationFrequency: rule.frequency
      windowSize: rule.window
      overrideQueryTimeRange: empty(rule.timeRange) ? null : rule.timeRange
      scopes: [
        workspace.id
      ]
      // The tables only exist once the first record has been ingested.
      skipQueryValidation: true
      autoMitigate: true
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: 0
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
]

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, workbookName)
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'Bad buzz: predictions and the feedback loop'
    category: 'workbook'
    sourceId: workspace.id
    serializedData: string({
      version: 'Notebook/1.0'
      items: workbookItems
      fallbackResourceIds: [
        workspace.id
      ]
    })
  }
}

output workspaceName string = workspace.name
output workspaceCustomerId string = workspace.properties.customerId
output applicationInsightsName string = applicationInsights.name
output applicationInsightsConnectionString string = applicationInsights.properties.ConnectionString
