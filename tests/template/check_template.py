"""Checks template.yaml's key settings, which cfn-lint and `sam validate --lint` do not catch
(a misspelt InvokeMode under Globals passes both). Reads the template with cfn-lint's own
decoder, so the short intrinsic tags (!Ref, !GetAtt, ...) are understood."""

import json
import re
import sys
from pathlib import Path

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
template = cfn_yaml.load(str(ROOT / "template.yaml"))
resources = template["Resources"]
functions = {name: r for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
globals_ = template.get("Globals", {}).get("Function", {})
checks = []


def check(name, ok, detail=""):
    checks.append((name, bool(ok), detail))


def prop(function, key):
    return functions[function]["Properties"].get(key, globals_.get(key))


expected_modes = {"ChatCompleteFunction": "BUFFERED", "ChatStreamFunction": "RESPONSE_STREAM", "IndexFunction": "BUFFERED"}
binaries = {"ChatCompleteFunction": "chat-complete", "ChatStreamFunction": "chat-stream", "IndexFunction": "index"}
check("exactly the three functions", set(functions) == set(expected_modes), sorted(functions))
allowed_global_keys = {"Runtime", "Architectures", "Handler", "MemorySize", "Timeout", "Environment", "LoggingConfig", "Tags"}
check("Globals has only known keys", set(globals_) <= allowed_global_keys, sorted(set(globals_) - allowed_global_keys))

for name, mode in expected_modes.items():
    if name not in functions:
        continue
    f = functions[name]
    url = f["Properties"].get("FunctionUrlConfig", {})
    check(f"{name}: InvokeMode {mode}", url.get("InvokeMode") == mode, url.get("InvokeMode"))
    check(f"{name}: public HTTPS URL", url.get("AuthType") == "NONE")
    check(f"{name}: provided.al2023", prop(name, "Runtime") == "provided.al2023")
    check(f"{name}: arm64", prop(name, "Architectures") == ["arm64"])
    check(f"{name}: built by cargo lambda", f.get("Metadata", {}).get("BuildMethod") == "rust-cargolambda")
    check(f"{name}: binary {binaries[name]}", f.get("Metadata", {}).get("BuildProperties", {}).get("Binary") == binaries[name])
    check(f"{name}: small memory", int(prop(name, "MemorySize")) <= 256)
    check(f"{name}: JSON logs to its own log group", prop(name, "LoggingConfig", ).get("LogFormat") == "JSON")
    logging = prop(name, "LoggingConfig")
    check(f"{name}: platform REPORT lines kept", logging.get("SystemLogLevel") in ("INFO", "DEBUG"), logging.get("SystemLogLevel"))
    statements = [s for p in f["Properties"].get("Policies", []) for s in p["Statement"]]
    check(f"{name}: no wildcard in its policy", "*" not in str([(s.get("Action"), s.get("Resource")) for s in statements]), statements)

# Resume tokens and the owner tag of responses are signed with a key of their own, generated at
# deploy time, so rotating the OpenAI key breaks neither.
signing_secret = {"Ref": "TokenSigningSecret"}
signing = resources.get("TokenSigningSecret", {})
generated = signing.get("Properties", {}).get("GenerateSecretString", {})
check("TokenSigningSecret: a Secrets Manager secret, always created", signing.get("Type") == "AWS::SecretsManager::Secret" and "Condition" not in signing, signing)
check("TokenSigningSecret: generated, never written in the template", generated and "SecretString" not in signing.get("Properties", {}), signing)
check("TokenSigningSecret: 64 alphanumeric characters", int(generated.get("PasswordLength", 0)) >= 64 and generated.get("ExcludePunctuation") is True, generated)
check("outputs: the signing secret", template.get("Outputs", {}).get("TokenSigningSecret", {}).get("Value") == signing_secret)

for name in ("ChatCompleteFunction", "ChatStreamFunction"):
    props = functions[name]["Properties"]
    env = props["Environment"]["Variables"]
    total_ms = int(env.get("OPENAI_TOTAL_TIMEOUT_MS", 280000))
    check(f"{name}: upstream deadline inside the Lambda timeout", total_ms + 5000 <= int(props["Timeout"]) * 1000, (total_ms, props["Timeout"]))
    check(f"{name}: key from Secrets Manager", "OPENAI_API_KEY_SECRET_ID" in env and "OPENAI_API_KEY" not in env)
    statements = [s for p in props["Policies"] for s in p["Statement"]]
    # The fallback's secret, readable only when a fallback that has one is set (not bedrock).
    fallback_reading = {"Fn::If": ["HasFallbackSecret", {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": {"Ref": "FallbackApiKeySecretArn"}}, {"Ref": "AWS::NoValue"}]}
    check(f"{name}: may read the fallback's secret only with a fallback", fallback_reading in statements, statements)
    statements = [s for s in statements if s != fallback_reading]
    # The MCP servers' authorization, readable only when its secret is named.
    mcp_reading = {"Fn::If": ["HasMcpSecret", {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": {"Ref": "McpAuthorizationSecretArn"}}, {"Ref": "AWS::NoValue"}]}
    check(f"{name}: may read the MCP servers' secret only when it is named", mcp_reading in statements, statements)
    check(f"{name}: ... and is told its id", env.get("MCP_AUTHORIZATION_SECRET_ID") == {"Fn::If": ["HasMcpSecret", {"Ref": "McpAuthorizationSecretArn"}, {"Ref": "AWS::NoValue"}]}, env.get("MCP_AUTHORIZATION_SECRET_ID"))
    statements = [s for s in statements if s != mcp_reading]
    # FallbackAuth=bedrock: the key is minted from the role, so the role may call Bedrock; only then.
    bedrock = [s for s in statements if "Fn::If" in s and s["Fn::If"][0] == "FallbackIsBedrock"]
    granted = [s["Fn::If"][1] for s in bedrock]
    check(f"{name}: Bedrock's actions only with FallbackAuth=bedrock", all(s["Fn::If"][2] == {"Ref": "AWS::NoValue"} for s in bedrock) and [g.get("Action") for g in granted] == ["bedrock-mantle:CallWithBearerToken", "bedrock:InvokeModel", "bedrock:InvokeModel"], bedrock)
    profile = {"Fn::Sub": "arn:${AWS::Partition}:bedrock:${AWS::Region}:${AWS::AccountId}:inference-profile/${FallbackModel}"}
    wildcards = [g for g in granted if "*" in str(g.get("Resource"))]
    # CallWithBearerToken has no resource type; the models are reachable only through the profile.
    check(f"{name}: ... the model only through its inference profile", len(granted) == 3 and granted[1].get("Resource") == profile and granted[2].get("Condition") == {"StringEquals": {"bedrock:InferenceProfileArn": profile}} and wildcards == [granted[0], granted[2]] and granted[0].get("Resource") == "*", granted)
    statements = [s for s in statements if s not in bedrock]
    # chat-stream also parks the reservation of an answer it hands over (handover#<id>).
    table_actions = ["dynamodb:UpdateItem", "dynamodb:GetItem"] + (["dynamodb:PutItem", "dynamodb:DeleteItem"] if name == "ChatStreamFunction" else [])
    check(f"{name}: may only read the secrets and count usage", [s["Action"] for s in statements] == ["secretsmanager:GetSecretValue", "secretsmanager:GetSecretValue", table_actions], statements)
    the_secret = {"Fn::If": ["CreateSecret", {"Ref": "OpenAIApiKeySecret"}, {"Ref": "OpenAIApiKeySecretArn"}]}
    the_table = {"Fn::GetAtt": ["LimitsTable", "Arn"]}
    check(f"{name}: ... only this deployment's secrets and table", [s.get("Resource") for s in statements] == [the_secret, signing_secret, the_table], statements)
    check(f"{name}: signing key from its own secret", env.get("TOKEN_SIGNING_SECRET_ID") == signing_secret, env.get("TOKEN_SIGNING_SECRET_ID"))
    naming_it = [s for s in statements if "TokenSigningSecret" in str(s)]
    check(f"{name}: may read the signing secret, and do nothing else with it", naming_it == [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": signing_secret}], naming_it)
    check(f"{name}: the access mode is a parameter", env.get("ACCESS") == {"Ref": "AccessMode"}, env.get("ACCESS"))
    check(f"{name}: limits on, against the stack's table", env.get("LIMITS_TABLE") == {"Ref": "LimitsTable"}, env.get("LIMITS_TABLE"))
    # The page's origin, plus only what the AppOrigins parameter names (an https origin list).
    allowed = str(env.get("ALLOWED_ORIGINS"))
    check(f"{name}: only the page's origin and AppOrigins may call", "IndexFunctionUrl" in allowed and "*" not in allowed and allowed.count("${AppOrigins}") == 1, allowed)
    check(f"{name}: reserved concurrency", "ReservedConcurrentExecutions" in props)
    cors = props["FunctionUrlConfig"].get("Cors", {})
    origins = cors.get("AllowOrigins", [])
    check(f"{name}: CORS allows the page's origin and AppOrigins, the same as ALLOWED_ORIGINS", origins.get("Fn::Split") == [",", env.get("ALLOWED_ORIGINS")], origins)
    check(f"{name}: CORS lets a browser app send a JSON body and an access key", {"content-type", "authorization"} <= set(cors.get("AllowHeaders", [])), cors.get("AllowHeaders"))
    check(f"{name}: CORS lets an app read Retry-After and WWW-Authenticate", {"retry-after", "www-authenticate"} <= set(cors.get("ExposeHeaders", [])), cors.get("ExposeHeaders"))
    if name == "ChatStreamFunction":
        check(f"{name}: CORS lets WorkflowChatTransport read its run id", {"x-workflow-run-id", "x-workflow-stream-tail-index"} <= set(cors.get("ExposeHeaders", [])), cors.get("ExposeHeaders"))

# ACCESS=jwt: each provider setting is a parameter that reaches both chat functions, and is left
# out when empty (an empty JWT_ISSUER would be "set" to the function).
parameters = template["Parameters"]
jwt_settings = {"JwtIssuer": "JWT_ISSUER", "JwtAudience": "JWT_AUDIENCE", "JwtJwksUrl": "JWT_JWKS_URL", "JwtLimitsClaim": "JWT_LIMITS_CLAIM", "JwtPlanLimits": "JWT_PLAN_LIMITS"}
check("AccessMode: public, keys or jwt", parameters["AccessMode"].get("AllowedValues") == ["public", "keys", "jwt"], parameters["AccessMode"].get("AllowedValues"))
conditions = template.get("Conditions", {})


def optional_settings_reach_the_chat_functions(settings):
    """Each parameter an optional string whose variable both chat functions get only when set."""
    for parameter, variable in settings.items():
        p = parameters.get(parameter, {})
        check(f"{parameter}: an optional string parameter", p.get("Type") == "String" and p.get("Default") == "" and p.get("Description"), p)
        condition = next((name for name, c in conditions.items() if c == {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]}), None)
        check(f"{parameter}: a condition that it is set", condition, sorted(conditions))
        for name in ("ChatCompleteFunction", "ChatStreamFunction"):
            env = functions[name]["Properties"]["Environment"]["Variables"]
            wanted = {"Fn::If": [condition, {"Ref": parameter}, {"Ref": "AWS::NoValue"}]}
            check(f"{name}: {variable} from {parameter}, absent when empty", env.get(variable) == wanted, env.get(variable))


optional_settings_reach_the_chat_functions(jwt_settings)
# Reasoning models: each setting is a parameter that reaches both chat functions, left out when
# empty (the functions' own default: an empty OPENAI_REASONING_SUMMARY would be refused at init),
# and only ever one of the values the functions accept.
reasoning_settings = {"ReasoningEffort": "OPENAI_REASONING_EFFORT", "ReasoningSummary": "OPENAI_REASONING_SUMMARY", "ReasoningContext": "OPENAI_REASONING_CONTEXT", "CompactThreshold": "OPENAI_COMPACT_THRESHOLD", "ServiceTier": "OPENAI_SERVICE_TIER", "MaxThinkMs": "OPENAI_MAX_THINK_MS"}
optional_settings_reach_the_chat_functions(reasoning_settings)
# Money: the dollar limits and the owner's prices reach both chat functions the same way.
money_settings = {"DailyBudgetUSD": "DAILY_BUDGET_USD", "CallerUSDPerDay": "CALLER_USD_PER_DAY", "PriceInputPerMTok": "OPENAI_PRICE_INPUT_PER_MTOK", "PriceCachedInputPerMTok": "OPENAI_PRICE_CACHED_INPUT_PER_MTOK", "PriceCacheWritePerMTok": "OPENAI_PRICE_CACHE_WRITE_PER_MTOK", "PriceOutputPerMTok": "OPENAI_PRICE_OUTPUT_PER_MTOK"}
optional_settings_reach_the_chat_functions(money_settings)
# The upstream, the system prompt and the time limits the owner may set.
upstream_settings = {"OpenAIBaseUrl": "OPENAI_BASE_URL", "OpenAIInstructions": "OPENAI_INSTRUCTIONS", "ConnectTimeoutMs": "OPENAI_CONNECT_TIMEOUT_MS", "FirstEventTimeoutMs": "OPENAI_FIRST_EVENT_TIMEOUT_MS", "IdleTimeoutMs": "OPENAI_IDLE_TIMEOUT_MS"}
optional_settings_reach_the_chat_functions(upstream_settings)
# FALLBACK_API_KEY_SECRET_ID only when the fallback has a secret: with bedrock the functions refuse one.
fallback_env = {"FALLBACK_BASE_URL": ("FallbackBaseUrl", "HasFallback"), "FALLBACK_AUTH": ("FallbackAuth", "HasFallback"), "FALLBACK_API_KEY_SECRET_ID": ("FallbackApiKeySecretArn", "HasFallbackSecret")}
for name in ("ChatCompleteFunction", "ChatStreamFunction"):
    env = functions[name]["Properties"]["Environment"]["Variables"]
    for variable, (parameter, condition) in fallback_env.items():
        check(f"{name}: {variable} from {parameter}, only with a fallback ({condition})", env.get(variable) == {"Fn::If": [condition, {"Ref": parameter}, {"Ref": "AWS::NoValue"}]}, env.get(variable))
check("FallbackAuth: bearer, azure or bedrock", parameters["FallbackAuth"].get("AllowedValues") == ["bearer", "azure", "bedrock"], parameters["FallbackAuth"].get("AllowedValues"))
conditions = template.get("Conditions", {})
check("FallbackIsBedrock and HasFallbackSecret split a fallback by FallbackAuth", conditions.get("FallbackIsBedrock") == {"Fn::And": [{"Condition": "HasFallback"}, {"Fn::Equals": [{"Ref": "FallbackAuth"}, "bedrock"]}]} and conditions.get("HasFallbackSecret") == {"Fn::And": [{"Condition": "HasFallback"}, {"Fn::Not": [{"Fn::Equals": [{"Ref": "FallbackAuth"}, "bedrock"]}]}]}, (conditions.get("FallbackIsBedrock"), conditions.get("HasFallbackSecret")))
bedrock_rule = template.get("Rules", {}).get("BedrockMintsItsKey", {})
check("Rules: bedrock takes no secret and needs its inference profile", [a.get("Assert") for a in bedrock_rule.get("Assertions", [])] == [{"Fn::Equals": [{"Ref": "FallbackApiKeySecretArn"}, ""]}, {"Fn::Not": [{"Fn::Equals": [{"Ref": "FallbackModel"}, ""]}]}], bedrock_rule)

# Every pattern against the values tests/template/pattern_cases.json lists; the functions' parser
# reads the same values in tests/tests/template_patterns.rs, so both agree.
pattern_cases = {k: v for k, v in json.loads((ROOT / "tests/template/pattern_cases.json").read_text()).items() if not k.startswith("_")}
patterned = sorted(name for name, p in parameters.items() if "AllowedPattern" in p)
check("every parameter with a pattern has its cases, and only those", patterned == sorted(pattern_cases), sorted(set(patterned) ^ set(pattern_cases)))
for parameter, case in pattern_cases.items():
    pattern = re.compile(parameters.get(parameter, {}).get("AllowedPattern", "x^"))
    wrong = [v for v in case["accepted"] if not pattern.fullmatch(v)] + [v for v in case["refused"] + case["code_only"] if pattern.fullmatch(v)]
    check(f"{parameter}: its pattern takes what the functions take", not wrong, wrong)
spend_alarm = resources.get("SpendAlarm", {}).get("Properties", {})
check("SpendAlarm: DailySpendAlarmUSD, else a share of DailyBudgetUSD, else $10", spend_alarm.get("Threshold") == {"Fn::If": ["HasSpendAlarmUSD", {"Ref": "DailySpendAlarmUSD"}, {"Fn::If": ["HasDailyBudgetUSD", {"Ref": "DailyTokenAlarmPercent"}, 10]}]}, spend_alarm.get("Threshold"))
check("index gets no reasoning settings", not set(reasoning_settings.values()) & set(functions["IndexFunction"]["Properties"]["Environment"]["Variables"]))
check("ReasoningEffort: the efforts OpenAI takes, or empty", parameters["ReasoningEffort"].get("AllowedValues") == ["", "none", "minimal", "low", "medium", "high", "xhigh", "max"], parameters["ReasoningEffort"].get("AllowedValues"))
check("ReasoningContext: auto, current_turn, all_turns, or empty", parameters["ReasoningContext"].get("AllowedValues") == ["", "auto", "current_turn", "all_turns"], parameters["ReasoningContext"].get("AllowedValues"))
check("OpenAIModel: a current model by default (gpt-4o-mini shuts down 2027-01-14)", parameters["OpenAIModel"].get("Default") == "gpt-6-luna", parameters["OpenAIModel"].get("Default"))
# "off" quoted in the YAML: unquoted, YAML 1.1 would read it as false.
check("ReasoningSummary: auto, concise, detailed, off, or empty", parameters["ReasoningSummary"].get("AllowedValues") == ["", "auto", "concise", "detailed", "off"], parameters["ReasoningSummary"].get("AllowedValues"))
jwt_rules = [r for r in template.get("Rules", {}).values() if r.get("RuleCondition") == {"Fn::Equals": [{"Ref": "AccessMode"}, "jwt"]}]
asserted = [a.get("Assert") for r in jwt_rules for a in r.get("Assertions", [])]
for parameter in ("JwtIssuer", "JwtAudience"):
    check(f"AccessMode jwt refuses to deploy without {parameter}", {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]} in asserted, asserted)
for parameter in ("JwtIssuer", "JwtJwksUrl", "FallbackBaseUrl", "OpenAIBaseUrl"):
    pattern = re.compile(parameters[parameter]["AllowedPattern"])
    check(f"{parameter}: https only", not any(pattern.fullmatch(v) for v in ["http://id.example", "id.example"]))
# The page is framed only by the apps that hand it tokens: AppOrigins, never a wildcard (its own
# origin would be a reference to itself, a cycle).
index_origins = functions["IndexFunction"]["Properties"]["Environment"]["Variables"].get("ALLOWED_ORIGINS")
check("IndexFunction: ALLOWED_ORIGINS is AppOrigins, absent when empty", index_origins == {"Fn::If": ["HasAppOrigins", {"Ref": "AppOrigins"}, {"Ref": "AWS::NoValue"}]}, index_origins)
check("index gets no provider settings (the chat functions verify tokens)", not set(jwt_settings.values()) & set(functions["IndexFunction"]["Properties"]["Environment"]["Variables"]))

app_origins = re.compile(template["Parameters"]["AppOrigins"]["AllowedPattern"])
check("AppOrigins: https origins only, never a wildcard", not any(app_origins.fullmatch(v) for v in ["*", "http://a.example", "https://*.example"]))

table = resources.get("LimitsTable", {}).get("Properties", {})
check("limits table: the contract's key schema", table.get("KeySchema") == [{"AttributeName": "pk", "KeyType": "HASH"}] and table.get("AttributeDefinitions") == [{"AttributeName": "pk", "AttributeType": "S"}], table)
check("limits table: on demand, TTL on expires_at", table.get("BillingMode") == "PAY_PER_REQUEST" and table.get("TimeToLiveSpecification") == {"AttributeName": "expires_at", "Enabled": True}, table)
index_statements = [s for p in functions["IndexFunction"]["Properties"]["Policies"] for s in p["Statement"]]
check("IndexFunction: may only look up the chat URLs", [s["Action"] for s in index_statements] == ["lambda:GetFunctionUrlConfig"], index_statements)
chat_arns = [{"Fn::Sub": f"arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:${{AWS::StackName}}-{f}"} for f in ("chat-complete", "chat-stream")]
for name, binary in (("ChatCompleteFunction", "chat-complete"), ("ChatStreamFunction", "chat-stream")):
    check(f"{name}: named as index names it", functions[name]["Properties"].get("FunctionName") == {"Fn::Sub": f"${{AWS::StackName}}-{binary}"})
check("IndexFunction: ... of the two chat functions only", [s.get("Resource") for s in index_statements] == [chat_arns], index_statements)
index_env = functions["IndexFunction"]["Properties"]["Environment"]["Variables"]
check("index finds the chat URLs by function name", {"CHAT_COMPLETE_FUNCTION", "CHAT_STREAM_FUNCTION"} <= set(index_env))
check("index does not get the signing key", "TokenSigningSecret" not in str(functions["IndexFunction"]["Properties"]), index_env)
for group in ("ChatCompleteLogs", "ChatStreamLogs", "IndexLogs"):
    check(f"{group}: retention set", "RetentionInDays" in resources[group]["Properties"])
outputs = template.get("Outputs", {})
check("outputs: page and both API URLs", {"PageUrl", "ChatCompleteUrl", "ChatStreamUrl"} <= set(outputs), sorted(outputs))

# The dashboard and alarms use only metrics the functions emit: the names their log lines
# declared in the suites that record them (target/emf-metrics/<suite>.json: the fault suite
# under cargo lambda watch, the model-lifecycle suite on the release binaries).
NAMESPACE = "LambdaOpenAIChat"
emitted_lists = sorted((ROOT / "target" / "emf-metrics").glob("*.json"))
emitted = {name for path in emitted_lists for name in json.loads(path.read_text())}
check("the suites recorded the emitted metrics", len(emitted_lists) >= 2 and emitted, f"target/emf-metrics/ holds {[p.name for p in emitted_lists]}: run cargo test first")
# The monthly figure is derived, not typed: the metric names are operations.md's table, which
# must name every metric the suites saw emitted, and its count prices the month there and in
# the README.
operations = (ROOT / "docs" / "operations.md").read_text()
metric_table = operations.split("| metric | what |", 1)[-1].split("\n\n", 1)[0]
documented = {name for line in metric_table.splitlines() if line.startswith("| `") for name in re.findall(r"`([A-Z][A-Za-z]+)`", line.split("|")[1])}
emitted_names = {name.rsplit("/", 1)[-1] for name in emitted}
check("operations.md's metric table names every emitted metric", emitted_names <= documented, sorted(emitted_names - documented))
per_month = re.search(r"up to (\d+)\s+names × 2 functions \(≈ \$(\d+\.\d\d)/month", operations)
check("operations.md counts the metric names it documents", per_month and int(per_month.group(1)) == len(documented), (per_month and per_month.group(1), len(documented)))
metrics_usd = len(documented) * 2 * 0.30
check("operations.md prices them at $0.30 each", per_month and abs(float(per_month.group(2)) - metrics_usd) < 0.005, (per_month and per_month.group(2), metrics_usd))
monthly = round(metrics_usd + 0.80 + 3 + 2)
readme_month = re.search(r"plus up to about \$(\d+) a month", (ROOT / "README.md").read_text())
check("the README's monthly figure is the metrics, secrets, dashboard and alarms", readme_month and int(readme_month.group(1)) == monthly, (readme_month and readme_month.group(1), monthly))
check("operations.md's monthly figure is the same", f"up to about ${monthly} a month in all" in operations, monthly)
dashboard = resources.get("Dashboard", {}).get("Properties", {})
body_source = dashboard.get("DashboardBody", {}).get("Fn::Sub", "")
try:
    body = json.loads(re.sub(r"\$\{[^}]+\}", "placeholder", body_source))
except ValueError as error:
    body = {}
    check("dashboard body is valid JSON", False, error)
widgets = body.get("widgets", [])
check("dashboard has widgets", widgets)
used = {f"{m[0]}/{m[1]}" for w in widgets for m in w["properties"].get("metrics", []) if m[0] == NAMESPACE}
check("dashboard uses only emitted metrics", used and used <= emitted, sorted(used - emitted))
titles = " ".join(w["properties"].get("title", "") for w in widgets).lower()
for topic in ("first text", "requests", "errors", "tokens", "cost", "duration", "throttles"):
    check(f"dashboard shows {topic}", topic in titles)
alarms = {name: r for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
error_rate_alarms = ("ErrorRateAlarm", "CompleteErrorRateAlarm")
check("alarms: spend, tokens, error rate of each chat function, throttling", {"SpendAlarm", "TokenAlarm", *error_rate_alarms, "ThrottleAlarm"} <= set(alarms), sorted(alarms))


def alarm_stats(name):
    """(id, metric name, function dimension, period) of each metric the alarm reads."""
    rows = []
    for m in alarms.get(name, {}).get("Properties", {}).get("Metrics", []):
        if "MetricStat" in m:
            metric = m["MetricStat"]["Metric"]
            function = next((d["Value"] for d in metric.get("Dimensions", []) if d["Name"] == "function"), None)
            rows.append((m["Id"], metric["MetricName"], function, m["MetricStat"]["Period"]))
    return rows


def alarm_expression(name):
    watched = [m for m in alarms.get(name, {}).get("Properties", {}).get("Metrics", []) if "Expression" in m and m.get("ReturnData", True)]
    return watched[0]["Expression"] if len(watched) == 1 else None


for name, alarm in alarms.items():
    stats = [m["MetricStat"]["Metric"] for m in alarm["Properties"].get("Metrics", []) if "MetricStat" in m]
    ours = {f"{m['Namespace']}/{m['MetricName']}" for m in stats if m["Namespace"] == NAMESPACE}
    check(f"{name}: uses only emitted metrics", ours <= emitted, sorted(ours - emitted))
    check(f"{name}: notifies the optional topic", "AlarmActions" in alarm["Properties"])
    # A hard limit of CloudWatch: an alarm's metric math reads at most 10 metrics.
    check(f"{name}: at most 10 metrics", len(stats) <= 10, len(stats))
    check(f"{name}: one period for all its metrics", len({row[3] for row in alarm_stats(name)}) <= 1, alarm_stats(name))

# Every kind of failure that is not the caller's, on both chat functions, as a share of the
# requests of the same function; never a division by zero.
# The functions emit `Failures` for every kind that is not the caller's (UpstreamError,
# UpstreamTimeout, UpstreamRateLimited, Misconfigured, LimitsUnavailable, AuthUnavailable,
# ModelUnavailable): the alarm reads it, so a kind added later is counted with no edit here.
failures = ("Failures",)
covered = {(row[1], row[2]) for name in error_rate_alarms for row in alarm_stats(name)}
for function in ("chat-stream", "chat-complete"):
    missing = [kind for kind in failures if (kind, function) not in covered]
    check(f"error-rate alarms count every failure of {function}", not missing, missing)
for name in error_rate_alarms:
    rows, expression = alarm_stats(name), str(alarm_expression(name))
    check(f"{name}: one function's requests and failures", len({row[2] for row in rows}) == 1 and [row[1] for row in rows].count("Requests") == 1, rows)
    requests = next((row[0] for row in rows if row[1] == "Requests"), "requests")
    check(f"{name}: divides only when there were requests", re.search(rf"IF\(\s*{requests}\s*>\s*0\s*,", expression), expression)
    check(f"{name}: a failure metric without data counts as 0", all(f"FILL({row[0]}, 0)" in expression for row in rows if row[1] in failures), expression)
    check(f"{name}: threshold ErrorRateAlarmPercent", alarms.get(name, {}).get("Properties", {}).get("Threshold") == {"Ref": "ErrorRateAlarmPercent"})

# OpenAI's announced shutdown of the model: the fewest days either function reported, against
# ModelShutdownAlarmDays (30 by default), a month's warning.
shutdown_rows = alarm_stats("ModelShutdownAlarm")
check("ModelShutdownAlarm: ModelDaysToShutdown of both chat functions", {(row[1], row[2]) for row in shutdown_rows} == {("ModelDaysToShutdown", f) for f in ("chat-stream", "chat-complete")}, shutdown_rows)
shutdown_alarm = alarms.get("ModelShutdownAlarm", {}).get("Properties", {})
check("ModelShutdownAlarm: below ModelShutdownAlarmDays", shutdown_alarm.get("Threshold") == {"Ref": "ModelShutdownAlarmDays"} and shutdown_alarm.get("ComparisonOperator") == "LessThanThreshold", shutdown_alarm.get("Threshold"))
check("ModelShutdownAlarmDays: 30 by default", template["Parameters"].get("ModelShutdownAlarmDays", {}).get("Default") == 30)

# Tokens of the last 24 hours against DailyTokenBudget: sees the models SpendAlarm cannot price.
token_rows = alarm_stats("TokenAlarm")
token_expression = alarm_expression("TokenAlarm")
token_text = token_expression.get("Fn::Sub", "") if isinstance(token_expression, dict) else ""
wanted = {(kind, function) for kind in ("InputTokens", "OutputTokens") for function in ("chat-stream", "chat-complete")}
check("TokenAlarm: input and output tokens of both chat functions", {(row[1], row[2]) for row in token_rows} == wanted, token_rows)
check("TokenAlarm: summed over 24 hours", {row[3] for row in token_rows} == {86400}, token_rows)
check("TokenAlarm: a share of DailyTokenBudget", "/ ${DailyTokenBudget}" in token_text and all(f"FILL({row[0]}, 0)" in token_text for row in token_rows), token_expression)
check("TokenAlarm: threshold DailyTokenAlarmPercent", alarms.get("TokenAlarm", {}).get("Properties", {}).get("Threshold") == {"Ref": "DailyTokenAlarmPercent"})
token_percent = template["Parameters"].get("DailyTokenAlarmPercent", {})
check("DailyTokenAlarmPercent: a percentage", token_percent.get("Type") == "Number" and (token_percent.get("MinValue"), token_percent.get("MaxValue")) == (1, 100), token_percent)
check("SNS topic only with an address", resources.get("AlarmTopic", {}).get("Condition") == "NotifyByEmail")
check("outputs: the dashboard's URL", "DashboardUrl" in template.get("Outputs", {}))

# No dependency cycle once SAM has expanded the template (function URLs, roles): the page's
# origin is configured into the chat functions, so the page must not depend on them.
def references(value, found):
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
            elif key == "Fn::Sub":
                text = inner if isinstance(inner, str) else inner[0]
                found.update(name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text))
                if not isinstance(inner, str):
                    references(inner[1], found)
            else:
                references(inner, found)
    elif isinstance(value, list):
        for inner in value:
            references(inner, found)
    return found


def find_cycle(graph):
    state = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt, path + [nxt])):
                return cycle
        state[node] = "done"
        return None

    return next((c for n in graph if n not in state and (c := visit(n, [n]))), None)


import os  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
expandable = json.loads(json.dumps(template))
for f in expandable["Resources"].values():
    if f["Type"] == "AWS::Serverless::Function":
        f["Properties"]["CodeUri"] = "s3://bucket/key"
expanded = transform(expandable, {}, None)["Resources"]
graph = {}
for name, resource in expanded.items():
    depends = resource.get("DependsOn", [])
    graph[name] = {d for d in references(resource, set()) if d in expanded} | set([depends] if isinstance(depends, str) else depends)
cycle = find_cycle(graph)
check("no dependency cycle after the SAM transform", cycle is None, " -> ".join(cycle or []))

source = (ROOT / "template.yaml").read_text()
check("no OpenAI key in the template", not re.search(r"sk-[A-Za-z0-9]{8,}", source))

failed = [c for c in checks if not c[1]]
for name, ok, detail in checks:
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f": {detail}"))
print(f"template: {len(checks) - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
