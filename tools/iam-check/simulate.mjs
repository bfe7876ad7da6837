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
import { getDenialReasons, getGrantReasons, isWildcardOnlyAction, runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const requests = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const out = []
async function run(req, resource, known) {
  const simulation = {
    request: {
      principal: req.principal,
      action: req.action,
      resource: { resource, accountId: req.accountId },
      contextVariables: req.context || {},
    },
    identityPolicies: req.identityPolicies,
    permissionBoundaryPolicies: req.permissionBoundaryPolicies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: req.resourcePolicy,
  }
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
  let known = [...Object.keys(req.context || {}), ...(req.absent || [])]
  let response = await run(req, resource, known)
  // Keys the action does not support are dropped by the library: AWS leaves them out of the
  // request too (e.g. aws:ResourceTag on an S3 bucket without ABAC), so they stay known (as
  // absent). One exception is the library's own gap: its variable-key match only knows
  // `prefix/` keys, so kms:EncryptionContext:<key> is dropped although KMS supports it. That
  // key becomes unknown, and a condition on it is reported, never guessed.
  const single = response.resultType === 'single' ? response.result : (response.results || [])[0]
  const dropped = single?.ignoredContextKeys || []
  const gaps = dropped.filter((k) => /^kms:encryptioncontext:/i.test(k))
  if (gaps.length) {
    const lower = new Set(gaps.map((k) => k.toLowerCase()))
    known = known.filter((k) => !lower.has(k.toLowerCase()))
    response = await run(req, resource, known)
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
