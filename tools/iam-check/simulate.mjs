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
import { getDenialReasons, getGrantReasons, runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const requests = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const out = []
for (const req of requests) {
  const known = [...Object.keys(req.context || {}), ...(req.absent || [])]
  const simulation = {
    request: {
      principal: req.principal,
      action: req.action,
      resource: { resource: req.resource, accountId: req.accountId },
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
  const response = await runSimulation(simulation, options)
  if (response.resultType === 'error') {
    out.push({ id: req.id, result: 'Error', errors: response.errors })
    continue
  }
  const results = response.resultType === 'single' ? [response.result] : response.results
  const analysis = results[0].analysis
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
    denials: response.overallResult === 'Allowed' ? [] : getDenialReasons(analysis),
    grants: response.overallResult === 'Allowed' ? getGrantReasons(analysis) : [],
  })
}
process.stdout.write(JSON.stringify(out))
