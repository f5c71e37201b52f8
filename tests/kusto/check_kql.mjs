// Parse KQL with the Kusto language service against the tables our queries read, and print
// every diagnostic (syntax and semantic: unknown tables, columns, functions) as JSON.
//
//   node check_kql.mjs FILE...      check each file as written (the alert loads the file as is)
//   node check_kql.mjs -            check the query read from standard input (the harvest's)
//
// Prints {"<name>": [{severity, code, message, start, length, line}...]} and exits 1 when any
// query has a diagnostic, 2 on a usage error. tests/code/test_kql.py runs it.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
require("@kusto/language-service-next/bridge.min.js");
require("@kusto/language-service-next/Kusto.Language.Bridge.min.js");
const Kusto = globalThis.Kusto.Language;

// Azure Monitor Logs reference, table AppTraces (workspace-based Application Insights).
const APP_TRACES = [
  "TenantId:string", "TimeGenerated:datetime", "Message:string", "SeverityLevel:int",
  "Properties:dynamic", "Measurements:dynamic", "OperationName:string", "OperationId:string",
  "ParentId:string", "SyntheticSource:string", "SessionId:string", "UserId:string",
  "UserAuthenticatedId:string", "UserAccountId:string", "AppVersion:string", "AppRoleName:string",
  "AppRoleInstance:string", "ClientType:string", "ClientModel:string", "ClientOS:string",
  "ClientIP:string", "ClientCity:string", "ClientStateOrProvince:string",
  "ClientCountryOrRegion:string", "ClientBrowser:string", "ResourceGUID:string", "IKey:string",
  "SDKVersion:string", "ItemCount:int", "ReferencedItemId:string", "ReferencedType:string",
  "SourceSystem:string", "Type:string", "_ResourceId:string", "_BilledSize:real",
  "_IsBillable:string",
];

// Azure Monitor Logs reference, table AppDependencies: where the "predict" spans land.
const APP_DEPENDENCIES = [
  "TenantId:string", "TimeGenerated:datetime", "Id:string", "Target:string",
  "DependencyType:string", "Name:string", "Data:string", "Success:bool", "ResultCode:string",
  "DurationMs:real", "PerformanceBucket:string", "Properties:dynamic", "Measurements:dynamic",
  "OperationName:string", "OperationId:string", "ParentId:string", "SyntheticSource:string",
  "SessionId:string", "UserId:string", "UserAuthenticatedId:string", "UserAccountId:string",
  "AppVersion:string", "AppRoleName:string", "AppRoleInstance:string", "ClientType:string",
  "ClientModel:string", "ClientOS:string", "ClientIP:string", "ClientCity:string",
  "ClientStateOrProvince:string", "ClientCountryOrRegion:string", "ClientBrowser:string",
  "ResourceGUID:string", "IKey:string", "SDKVersion:string", "ItemCount:int",
  "ReferencedItemId:string", "ReferencedType:string", "SourceSystem:string", "Type:string",
  "_ResourceId:string", "_BilledSize:real", "_IsBillable:string",
];

function tableOf(name, columns) {
  return Kusto.Symbols.TableSymbol.From(`(${columns.join(", ")})`).WithName(name);
}

function buildGlobals() {
  const tables = [tableOf("AppTraces", APP_TRACES), tableOf("AppDependencies", APP_DEPENDENCIES)];
  const database = new Kusto.Symbols.DatabaseSymbol.$ctor1("workspace", tables, false);
  return Kusto.GlobalState.Default.WithDatabase(database);
}

function lineOf(text, offset) {
  return text.slice(0, offset).split("\n").length;
}

function diagnose(text, globals) {
  const code = Kusto.KustoCode.ParseAndAnalyze(text, globals);
  const diagnostics = code.GetDiagnostics();
  const found = [];
  for (let i = 0; i < diagnostics.Count; i++) {
    const d = diagnostics.getItem(i);
    found.push({
      severity: String(d.Severity), code: d.Code, message: d.Message,
      start: d.Start, length: d.Length, line: lineOf(text, d.Start),
    });
  }
  return found;
}

const args = process.argv.slice(2);
if (args.length === 0) {
  process.stderr.write("usage: node check_kql.mjs FILE... | -\n");
  process.exit(2);
}
const globals = buildGlobals();
const report = {};
for (const arg of args) {
  const text = readFileSync(arg === "-" ? 0 : arg, "utf8");
  report[arg === "-" ? "<stdin>" : arg] = diagnose(text, globals);
}
process.stdout.write(JSON.stringify(report, null, 2) + "\n");
process.exit(Object.values(report).some((found) => found.length > 0) ? 1 : 0);
