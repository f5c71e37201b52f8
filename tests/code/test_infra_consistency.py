"""The settings class, the Bicep app settings, local.settings.json.example and the KQL file agree.

`shared/settings.py` is the one list of settings the code reads; its field names are the app-setting
names. These tests read the infra as text (no Bicep CLI here: CI's `bicep` job compiles it) and
fail when one side names a setting the other does not know.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from shared.settings import Settings

pytestmark = pytest.mark.code

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
API_BICEP = INFRA / "app" / "api.bicep"
MONITORING_BICEP = INFRA / "app" / "monitoring.bicep"
RBAC_BICEP = INFRA / "app" / "rbac.bicep"
MAIN_BICEP = INFRA / "main.bicep"
LOCAL_SETTINGS = ROOT / "local.settings.json.example"
KQL = ROOT / "shared" / "queries" / "incorrect_predictions.kql"  # the alert: corrections only
HARVEST_KQL = ROOT / "shared" / "queries" / "feedback_events.kql"  # the harvest: both kinds
DEPLOY_WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"

FIELDS = frozenset(Settings.model_fields)

# Settings fields deliberately NOT set in Azure, each with the reason.
LOCAL_ONLY = {
    "MODEL_STORE_PATH": "local folder store; Azure uses the blob store (MODEL_STORE_ACCOUNT_URL)",
    "MODEL_STORE_CONNECTION_STRING": "Azurite only; the Azure account has shared keys disabled",
    "FEEDBACK_DB_PATH": "FEEDBACK_BACKEND=sqlite only; Azure logs feedback to App Insights",
    "MLFLOW_TRACKING_URI": "training only; retraining runs in GitHub Actions, not in the app",
    "DEFAULT_BUNDLE_PATH": "the repo-relative default resolves inside the deployed package",
    "TRANSLATOR_URL": "tests point translation at a local stand-in; Azure uses the real service",
    "LOGS_QUERY_ENDPOINT": "tests point the harvest at loopback; Azure uses the public endpoint",
    "TELEMETRY_EXPORTER": "local span export; in Azure the Functions worker exports (PYTHON_*)",
    "PREDICTION_EVENTS_PATH": "the local prediction-event store is off in Azure (MAX = 0)",
}

# App settings the Functions platform or the Azure SDKs read, not our Settings class.
PLATFORM_SETTINGS = {
    "AzureWebJobsStorage__accountName": "host storage over managed identity",
    "AzureWebJobsStorage__credential": "host storage over managed identity",
    "AzureWebJobsStorage__clientId": "which user-assigned identity the host uses",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Entra ID ingestion (local auth is disabled)",
    "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "the Python worker exports to App Insights",
    "PYTHON_ENABLE_OPENTELEMETRY": "the Python worker emits OpenTelemetry",
    "AZURE_CLIENT_ID": "DefaultAzureCredential picks the app identity",
    "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "the host's own request body cap (bytes)",
}

# Flex Consumption takes these from functionAppConfig.runtime and rejects them as app settings.
FORBIDDEN_ON_FLEX = {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION"}

# local.settings.json keys that are for `func start`, not for our Settings class.
LOCAL_PLATFORM_SETTINGS = {"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage"}

# Secrets set in Azure must come from Key Vault, never from a literal.
KEY_VAULT_SETTINGS = {"API_KEY", "GITHUB_TOKEN", "FEEDBACK_TOKEN_KEY"}

# Built-in Azure role definition ids the infra may use (name -> id).
BUILT_IN_ROLES = {
    "storageBlobDataOwner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "storageBlobDataContributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "storageBlobDataReader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "monitoringMetricsPublisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    "logAnalyticsReader": "73c42c96-874c-492b-b04d-ab87d138a893",
    "keyVaultSecretsUser": "4633458b-17de-408a-b874-0445c86b69e6",
}


# --- reading Bicep as text -------------------------------------------------------------------
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'")


def _code_only(line: str) -> str:
    """The line without string literals and without a trailing // comment."""
    return _STRING.sub("''", line).split("//", 1)[0]


def _object_block(text: str, opening: str) -> list[str]:
    """Lines inside the `{ ... }` that starts on the line matching `opening`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(opening, line))
    depth = 0
    for end in range(start, len(lines)):
        code = _code_only(lines[end])
        depth += code.count("{") - code.count("}")
        if depth == 0:
            return lines[start + 1 : end]
    raise AssertionError(f"unbalanced braces after {opening!r}")


def bicep_app_settings() -> dict[str, str]:
    """`var appSettings = { NAME: value ... }` of api.bicep, top-level keys to raw values."""
    settings: dict[str, str] = {}
    depth = 0
    for line in _object_block(API_BICEP.read_text(), r"^var appSettings = \{"):
        code = _code_only(line)
        match = re.match(r"^\s*'?([A-Za-z_][A-Za-z0-9_]*)'?\s*:\s*(.+)$", line)
        if depth == 0 and match and code.strip():
            assert match.group(1) not in settings, f"{match.group(1)} is set twice"
            settings[match.group(1)] = match.group(2).strip()
        depth += code.count("{") - code.count("}")
    return settings


def bicep_params(path: Path) -> dict[str, str | None]:
    """`param name type [= default]` of a Bicep file: name -> default text (None = required)."""
    params: dict[str, str | None] = {}
    for match in re.finditer(r"^param (\w+) \w+(?: = (.+))?$", path.read_text(), re.MULTILINE):
        params[match.group(1)] = match.group(2)
    return params


def local_settings() -> dict:
    return json.loads(LOCAL_SETTINGS.read_text())


# --- settings: class <-> Bicep <-> local.settings.json.example -------------------------------
def test_bicep_app_settings_are_parsed():
    settings = bicep_app_settings()
    assert "MODEL_STORE_ACCOUNT_URL" in settings
    assert "AzureWebJobsStorage__accountName" in settings
    assert all(value for value in settings.values())


def test_every_settings_field_is_set_in_azure_or_exempt():
    missing = FIELDS - set(bicep_app_settings()) - set(LOCAL_ONLY)
    assert not missing, f"set these in infra/app/api.bicep or add them to LOCAL_ONLY: {missing}"


def test_no_setting_is_set_that_nothing_reads():
    unknown = set(bicep_app_settings()) - FIELDS - set(PLATFORM_SETTINGS)
    assert not unknown, f"app settings no Settings field reads: {unknown}"


def test_exemptions_are_fields_and_really_unset():
    assert set(LOCAL_ONLY) <= FIELDS, f"stale exemptions: {set(LOCAL_ONLY) - FIELDS}"
    both = set(LOCAL_ONLY) & set(bicep_app_settings())
    assert not both, f"exempted as local-only but set in Azure: {both}"
    assert not set(PLATFORM_SETTINGS) & FIELDS, "a platform setting is also a Settings field"


def test_flex_consumption_settings_are_not_app_settings():
    assert not FORBIDDEN_ON_FLEX & set(bicep_app_settings())


def test_secrets_come_from_key_vault():
    settings = bicep_app_settings()
    for name in KEY_VAULT_SETTINGS:
        assert settings[name].startswith("'@Microsoft.KeyVault(SecretUri=${"), name
    assert settings["AUTH_MODE"] == "'api_key'"


def test_azure_feedback_goes_to_app_insights_and_blob_store_is_used():
    settings = bicep_app_settings()
    assert settings["FEEDBACK_BACKEND"] == "'appinsights'"
    assert settings["MODEL_STORE_ACCOUNT_URL"] == "storage.properties.primaryEndpoints.blob"
    assert settings["MODEL_CACHE_DIR"].startswith("'/tmp/"), "the Flex package is read-only"
    assert settings["LOG_ANALYTICS_WORKSPACE_ID"] == "logAnalyticsWorkspaceId"


def test_local_settings_example_names_every_field_and_nothing_else():
    values = local_settings()["Values"]
    assert set(values) - LOCAL_PLATFORM_SETTINGS == FIELDS
    assert set(values) >= LOCAL_PLATFORM_SETTINGS
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert values["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"


def test_local_settings_example_documents_every_value():
    document = local_settings()
    assert document["IsEncrypted"] is False
    comments = document["Comments"]
    assert set(comments) - {"_"} == set(document["Values"])
    assert all(isinstance(text, str) and text.strip() for text in comments.values())


def test_local_settings_example_is_valid_for_settings_and_holds_no_secret():
    values = local_settings()["Values"]
    assert all(isinstance(value, str) for value in values.values()), "Functions wants strings"
    for name in (*sorted(KEY_VAULT_SETTINGS), "MODEL_STORE_CONNECTION_STRING"):
        assert values[name] == "", f"{name} must stay empty in the example"
    fields = {name: value for name, value in values.items() if name in FIELDS and value != ""}
    Settings.model_validate(fields)


# --- the alerts run the KQL files of shared/queries as they are ------------------------------
QUERIES = ROOT / "shared" / "queries"
ALERT_FILES = {
    "incorrect_predictions.kql",
    "bad_buzz.kql",
    "loop_harvest.kql",
    "loop_retrain.kql",
    "model_health.kql",
}
WORKBOOK_FILES = {
    "workbook_predictions.kql",
    "workbook_feedback.kql",
    "workbook_model_version.kql",
    "workbook_loop_runs.kql",
}


def _loaded_query_paths() -> list[Path]:
    paths = re.findall(r"loadTextContent\('([^']+)'\)", MONITORING_BICEP.read_text())
    return [(MONITORING_BICEP.parent / path).resolve() for path in paths]


def _alert_query_path() -> Path:
    text = MONITORING_BICEP.read_text()
    match = re.search(r"^var incorrectPredictionsQuery = loadTextContent\('([^']+)'\)", text, re.M)
    assert match, "incorrectPredictionsQuery must load a KQL file"
    return (MONITORING_BICEP.parent / match.group(1)).resolve()


def test_monitoring_loads_every_alert_and_workbook_query_and_they_exist():
    loaded = _loaded_query_paths()
    assert len(loaded) == len(set(loaded)), "a KQL file is loaded twice"
    assert {path.name for path in loaded} == ALERT_FILES | WORKBOOK_FILES
    assert all(path.is_file() and path.parent == QUERIES.resolve() for path in loaded)


def test_alert_loads_the_shared_kql_file():
    path = _alert_query_path()
    assert path == KQL.resolve()
    assert path.is_file()
    assert '"incorrect_prediction"' in path.read_text()


def test_harvest_and_alert_read_the_shared_kql_files():
    """The harvest runs feedback_events.kql (both kinds); the alert the file Bicep loads.

    That the alert's file is the harvest's query plus a corrections-only filter is checked line
    by line in tests/code/test_kql.py.
    """
    from shared.feedback import sources

    assert Path(sources.ALERT_QUERY_PATH).resolve() == _alert_query_path()
    assert Path(sources.HARVEST_QUERY_PATH).resolve() == HARVEST_KQL.resolve()
    assert sources.load_query() == HARVEST_KQL.read_text(encoding="utf-8")


def test_alert_is_more_than_5_flags_in_5_minutes_with_the_alerts_identity():
    text = MONITORING_BICEP.read_text()
    rule_start = r"^resource incorrectPredictionsAlert 'Microsoft\.Insights/scheduledQueryRules@"
    rule = "\n".join(_object_block(text, rule_start))
    assert "evaluationFrequency: 'PT5M'" in rule
    assert "windowSize: 'PT5M'" in rule
    assert "timeAggregation: 'Count'" in rule
    assert "operator: 'GreaterThan'" in rule
    assert "threshold: incorrectPredictionThreshold" in rule
    assert bicep_params(MONITORING_BICEP)["incorrectPredictionThreshold"] == "5"
    assert "incorrectPredictionThreshold" not in MAIN_BICEP.read_text()
    assert "type: 'UserAssigned'" in rule
    assert "'${alertsIdentityId}': {}" in rule
    assert "query: incorrectPredictionsQuery" in rule
    assert "actionGroup.id" in rule
    assert re.search(r"emailAddress: alertEmail", text)


def _loop_alerts() -> list[dict[str, str]]:
    """The entries of `var loopAlerts = [ {...} ... ]`: key -> raw value."""
    block = _array_block(MONITORING_BICEP.read_text(), r"^var loopAlerts = \[")
    entries, current = [], {}
    for line in block:
        if line.strip() == "{":
            current = {}
        elif line.strip() == "}":
            entries.append(current)
        elif match := re.match(r"^\s+(\w+): (.+)$", line):
            current[match.group(1)] = match.group(2)
    return entries


def _array_block(text: str, opening: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(opening, line))
    depth = 0
    for end in range(start, len(lines)):
        code = _code_only(lines[end])
        depth += code.count("[") - code.count("]")
        if depth == 0:
            return lines[start + 1 : end]
    raise AssertionError(f"unbalanced brackets after {opening!r}")


def test_loop_and_buzz_alerts_cover_the_issue_and_go_to_the_action_group():
    alerts = {entry["name"].strip("'"): entry for entry in _loop_alerts()}
    assert set(alerts) == {"bad-buzz", "harvest", "retrain", "model-health"}
    expected_files = {
        "bad-buzz": "bad_buzz.kql",
        "harvest": "loop_harvest.kql",
        "retrain": "loop_retrain.kql",
        "model-health": "model_health.kql",
    }
    for name, entry in alerts.items():
        assert entry["query"] == f"loadTextContent('../../shared/queries/{expected_files[name]}')"
        # a log search alert sees at most 2 days: the override never asks for more
        assert entry["timeRange"] in {"''", "'P2D'"}, name
    assert alerts["bad-buzz"]["frequency"] == alerts["bad-buzz"]["window"] == "'PT15M'"
    assert alerts["bad-buzz"]["timeRange"] == "'P2D'", "the baseline is the day before"
    assert alerts["harvest"]["timeRange"] == "'P2D'", "the weekly check looks back to Monday"
    rule = "\n".join(_array_block(MONITORING_BICEP.read_text(), r"^resource loopAlertRules "))
    assert "for rule in loopAlerts" in rule
    assert "threshold: 0" in rule
    assert "operator: 'GreaterThan'" in rule
    assert "actionGroup.id" in rule
    assert "'${alertsIdentityId}': {}" in rule


def test_workbook_charts_every_workbook_query():
    text = MONITORING_BICEP.read_text()
    workbook = "\n".join(_object_block(text, r"^resource workbook 'Microsoft\.Insights/workbooks@"))
    assert "items: workbookItems" in workbook
    items = "\n".join(_array_block(text, r"^var workbookItems = \["))
    assert "for (chart, i) in workbookCharts" in items
    assert "sourceId: workspace.id" in workbook
    charts = "\n".join(_array_block(text, r"^var workbookCharts = \["))
    for name in WORKBOOK_FILES:
        assert f"shared/queries/{name}" in charts


# --- hardening the brief asks for -----------------------------------------------------------
def test_storage_is_entra_only():
    text = (INFRA / "app" / "storage.bicep").read_text()
    for line in (
        "allowSharedKeyAccess: false",
        "allowBlobPublicAccess: false",
        "minimumTlsVersion: 'TLS1_2'",
        "supportsHttpsTrafficOnly: true",
    ):
        assert line in text


def test_app_insights_is_workspace_based_with_local_auth_disabled():
    text = MONITORING_BICEP.read_text()
    assert "DisableLocalAuth: true" in text
    assert "WorkspaceResourceId: workspace.id" in text


def test_function_app_is_flex_consumption_python_311_with_identity_deployment():
    text = API_BICEP.read_text()
    assert "tier: 'FlexConsumption'" in text
    assert "name: 'FC1'" in text
    assert "kind: 'functionapp,linux'" in text
    assert re.search(r"runtime: \{\s*name: 'python'\s*version: '3\.11'", text)
    assert "type: 'UserAssignedIdentity'" in text
    assert "keyVaultReferenceIdentity: appIdentityId" in text
    assert "httpsOnly: true" in text


def test_role_definition_ids_are_the_built_in_roles_named():
    text = RBAC_BICEP.read_text()
    block = "\n".join(_object_block(text, r"^var roles = \{"))
    declared = dict(re.findall(r"(\w+): '([0-9a-f-]{36})'", block))
    assert declared == BUILT_IN_ROLES
    guids = set(re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text))
    assert guids == set(BUILT_IN_ROLES.values()), "role ids outside the named table"


def _assignments(text: str) -> list[tuple[str, str, str]]:
    """(scope, role name, principal) of every role assignment in rbac.bicep."""
    found = re.findall(
        r"scope: ([\w\[\]]+)\s+properties: \{\s+roleDefinitionId: "
        r"subscriptionResourceId\([^)]*roles\.(\w+)\)\s+principalId: (\w+)",
        text,
    )
    assert found
    return found


def test_each_principal_has_exactly_the_roles_the_design_says():
    found = sorted(_assignments(RBAC_BICEP.read_text()))
    assert found == sorted(
        [
            ("hostContainers[i]", "storageBlobDataOwner", "hostPrincipalId"),
            ("deploymentContainer", "storageBlobDataContributor", "hostPrincipalId"),
            ("applicationInsights", "monitoringMetricsPublisher", "hostPrincipalId"),
            ("modelsContainer", "storageBlobDataReader", "appPrincipalId"),
            ("feedbackContainer", "storageBlobDataContributor", "appPrincipalId"),
            ("workspace", "logAnalyticsReader", "appPrincipalId"),
            ("apiKeySecret", "keyVaultSecretsUser", "appPrincipalId"),
            ("dispatchTokenSecret", "keyVaultSecretsUser", "appPrincipalId"),
            ("feedbackTokenKeySecret", "keyVaultSecretsUser", "appPrincipalId"),
            ("workspace", "logAnalyticsReader", "alertsPrincipalId"),
            ("modelsContainer", "storageBlobDataContributor", "retrainPrincipalId"),
            ("feedbackContainer", "storageBlobDataContributor", "retrainPrincipalId"),
            ("applicationInsights", "monitoringMetricsPublisher", "retrainPrincipalId"),
        ]
    )
    assert "scope: storage\n" not in RBAC_BICEP.read_text(), "no role on the whole account"


def test_host_containers_are_created_and_passed_to_both_modules():
    main = MAIN_BICEP.read_text()
    assert re.search(
        r"var hostContainerNames = \[\s+'azure-webjobs-hosts'\s+'azure-webjobs-secrets'", main
    )
    assert main.count("hostContainerNames: hostContainerNames") == 2
    storage = (INFRA / "app" / "storage.bicep").read_text()
    assert "feedbackContainerName], hostContainerNames)" in storage


def test_github_access_delegates_only_the_roles_rbac_assigns():
    text = (INFRA / "github" / "access-rg.bicep").read_text()
    delegable = set(re.search(r"var delegableRoles = '([^']+)'", text).group(1).split(", "))
    assert delegable == set(BUILT_IN_ROLES.values())
    assert "condition: delegationCondition" in text
    assert "conditionVersion: '2.0'" in text
    access = (INFRA / "github" / "access.bicep").read_text()
    what_if = "\n".join(_object_block(access, r"^resource whatIfRole "))
    actions = set(re.findall(r"^\s+'([^']+)'$", what_if, re.MULTILINE)) - {"subscription().id"}
    assert actions == {
        "*/read",
        "Microsoft.Resources/deployments/whatIf/action",
        "Microsoft.Resources/deployments/validate/action",
    }
    assert "Owner'" not in access + text


def test_host_request_body_limit_is_just_above_the_api_cap():
    """The host refuses only what the API would refuse too, and not much more than that."""
    from shared.api.middleware import MAX_BODY_BYTES
    from shared.api.schemas import MAX_BATCH_ITEMS, MAX_TEXT_CHARS

    limit = int(bicep_params(API_BICEP)["requestBodyLimitBytes"])
    # the largest valid body: every character a JSON-escaped surrogate pair (12 bytes)
    worst_valid = len('{"texts":[]}') + MAX_BATCH_ITEMS * (MAX_TEXT_CHARS * 12 + 3)
    assert worst_valid <= MAX_BODY_BYTES <= limit
    assert limit <= MAX_BODY_BYTES + 64 * 1024
    setting = bicep_app_settings()["FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"]
    assert setting == "string(requestBodyLimitBytes)"


def test_app_identity_cannot_write_models():
    text = RBAC_BICEP.read_text()
    assert re.search(
        r"scope: modelsContainer\s+properties: \{\s+roleDefinitionId: "
        r"subscriptionResourceId\([^)]*roles\.storageBlobDataReader\)\s+"
        r"principalId: appPrincipalId",
        text,
    )
    for match in re.finditer(r"principalId: appPrincipalId", text):
        before = text[: match.start()].rsplit("roleDefinitionId:", 1)[1]
        assert "storageBlobDataOwner" not in before


# --- the Bicep files hang together -----------------------------------------------------------
@pytest.mark.parametrize("path", sorted(INFRA.rglob("*.bicep")), ids=lambda p: p.name)
def test_bicep_braces_and_brackets_balance(path: Path):
    code = "\n".join(_code_only(line) for line in path.read_text().splitlines())
    assert code.count("{") == code.count("}")
    assert code.count("[") == code.count("]")
    assert code.count("(") == code.count(")")


def test_modules_exist():
    paths = re.findall(r"^module \w+ '([^']+)'", MAIN_BICEP.read_text(), re.MULTILINE)
    assert paths
    for relative in paths:
        assert (INFRA / relative).is_file(), relative


def _modules() -> dict[str, Path]:
    found = re.findall(r"^module (\w+) '([^']+)'", MAIN_BICEP.read_text(), re.MULTILINE)
    return {name: INFRA / relative for name, relative in found}


@pytest.mark.parametrize("module", sorted(_modules()))
def test_module_gets_every_required_param_and_no_unknown_one(module: str):
    declared = bicep_params(_modules()[module])
    block = _object_block(MAIN_BICEP.read_text(), rf"^module {module} ")
    params = _object_block("\n".join(block), r"^\s*params: \{")
    given = {m.group(1) for line in params if (m := re.match(r"^\s*(\w+):", line))}
    assert given <= set(declared), f"unknown: {given - set(declared)}"
    required = {name for name, default in declared.items() if default is None}
    assert required <= given, f"missing: {required - given}"


def test_module_outputs_used_by_main_exist():
    modules = _modules()
    for module, output in set(re.findall(r"\b(\w+)\.outputs\.(\w+)", MAIN_BICEP.read_text())):
        text = modules[module].read_text()
        assert re.search(rf"^output {output} ", text, re.MULTILINE), f"{module}.{output}"


def test_abbreviations_used_exist():
    abbreviations = json.loads((INFRA / "abbreviations.json").read_text())
    used = set(re.findall(r"abbrs\.(\w+)", MAIN_BICEP.read_text()))
    assert used
    assert used <= set(abbreviations), used - set(abbreviations)


def test_main_parameters_match_main_bicep():
    params = bicep_params(MAIN_BICEP)
    given = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert set(given) <= set(params), f"unknown parameters: {set(given) - set(params)}"
    required = {name for name, default in params.items() if default is None}
    assert required <= set(given), f"required parameters not given: {required - set(given)}"


def test_secure_parameters_have_no_default_and_no_literal_value():
    text = MAIN_BICEP.read_text()
    secure = re.findall(r"@secure\(\)\n(?:@.*\n)*param (\w+) string$", text, re.MULTILINE)
    assert set(secure) == {"apiKey", "githubDispatchToken"}
    given = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    for name in secure:
        assert bicep_params(MAIN_BICEP)[name] is None
        assert re.fullmatch(r"\$\{[A-Z_]+\}", given[name]["value"]), name


def test_deploy_workflow_sets_every_parameter_placeholder():
    parameters = (INFRA / "main.parameters.json").read_text()
    placeholders = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)\}", parameters))
    workflow = yaml.safe_load(DEPLOY_WORKFLOW.read_text())
    for job_name in ("what-if", "deploy"):
        job = workflow["jobs"][job_name]
        step = next(s for s in job["steps"] if "envsubst" in s.get("run", ""))
        env = {**workflow.get("env", {}), **job.get("env", {}), **step.get("env", {})}
        runner_defaults = {"GITHUB_REPOSITORY"}
        assert placeholders - runner_defaults <= set(env), (job_name, placeholders - set(env))


def test_azure_yaml_deploys_this_folder_as_the_tagged_function_app():
    azure = yaml.safe_load((ROOT / "azure.yaml").read_text())
    service = azure["services"]["api"]
    assert (service["host"], service["language"], service["project"]) == ("function", "python", ".")
    assert azure["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    assert "param serviceName string = 'api'" in API_BICEP.read_text()
    assert "'azd-service-name': serviceName" in API_BICEP.read_text()


def test_bicepconfig_makes_linter_rules_errors():
    config = json.loads((INFRA / "bicepconfig.json").read_text())
    rules = config["analyzers"]["core"]["rules"]
    assert config["analyzers"]["core"]["enabled"] is True
    levels = {name: rule["level"] for name, rule in rules.items()}
    assert levels.pop("use-recent-api-versions") == "warning"  # would fail on every new release
    assert set(levels.values()) == {"error"}


def test_feedback_retention_in_the_bicep_matches_the_harvest_and_outlives_a_retrain() -> None:
    """The lifecycle rule deletes exactly what the harvest writes (data files, index
    partitions), never its watermark or requests, and not before a retrain stops using it."""
    from shared.feedback.index import INDEX_PREFIX
    from shared.feedback.records import DATA_PREFIX
    from training.cli.loop_commands import retrain

    bicep = (ROOT / "infra" / "app" / "storage.bicep").read_text(encoding="utf-8")
    prefixes = set(re.findall(r"'\$\{feedbackContainerName\}/([^']+)'", bicep))
    assert prefixes == {DATA_PREFIX, INDEX_PREFIX}
    (days,) = re.findall(r"param feedbackRetentionDays int = (\d+)", bicep)
    (minimum,) = re.findall(
        r"@minValue\((\d+)\)\n(?:@\w+\([^)]*\)\n)*param feedbackRetentionDays", bicep
    )
    assert int(minimum) > default_max_age(retrain)
    assert int(days) >= int(minimum)


def default_max_age(command: object) -> float:
    """The `--max-age-days` default of `bad-buzz retrain`."""
    import inspect

    return float(inspect.signature(command).parameters["max_age_days"].default)
