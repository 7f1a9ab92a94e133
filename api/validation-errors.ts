import { patternRules } from './schemas/patterns.js'

/** One schema error as Ajv reports it (with `verbose`, the schema object that holds the failing keyword too). */
export interface SchemaIssue {
  keyword: string
  instancePath: string
  schemaPath: string
  params: Record<string, any>
  message?: string
  parentSchema?: { properties?: Record<string, unknown> }
}

/** One error of a validation problem: where (`in` and a JSON pointer naming the field) and the rule, in words. */
export interface FieldError {
  in: string
  path: string
  message: string
}

const typeWords: Record<string, string> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  null: 'null'
}

const quoted = (value: unknown) => `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``
const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`
const oneOf = (values: unknown[]) => values.length === 1 ? quoted(values[0]) : `one of ${values.map(quoted).join(', ')}`

/** The rule an issue broke, in words (never a pattern), and the field it names. */
function word (issue: SchemaIssue): { path: string, message: string } {
  const { keyword, params, instancePath: path } = issue
  switch (keyword) {
    case 'type':
      return { path, message: `must be ${String(params.type).split(',').map((type) => typeWords[type] ?? type).join(' or ')}` }
    case 'required':
      return { path: `${path}/${String(params.missingProperty)}`, message: 'is required' }
    case 'additionalProperties': {
      const known = Object.keys(issue.parentSchema?.properties ?? {})
      const takes = known.length === 0 ? 'no fields here' : `only ${known.map(quoted).join(', ')}`
      return { path: `${path}/${String(params.additionalProperty)}`, message: `is not a field this request takes (it takes ${takes})` }
    }
    case 'minLength':
      return { path, message: params.limit === 1 ? 'must not be empty' : `must be ${plural(params.limit, 'character')} or longer` }
    case 'maxLength':
      return { path, message: `must be ${plural(params.limit, 'character')} or shorter` }
    case 'minimum': case 'maximum': case 'exclusiveMinimum': case 'exclusiveMaximum': {
      const bound: Record<string, (limit: string) => string> = {
        '>=': (limit) => `${limit} or more`, '<=': (limit) => `${limit} or less`, '>': (limit) => `more than ${limit}`, '<': (limit) => `less than ${limit}`
      }
      return { path, message: `must be ${bound[params.comparison]?.(String(params.limit)) ?? `${String(params.comparison)} ${String(params.limit)}`}` }
    }
    case 'minItems':
      return { path, message: `must list ${plural(params.limit, 'item')} or more` }
    case 'maxItems':
      return { path, message: `must list ${plural(params.limit, 'item')} or fewer` }
    case 'uniqueItems':
      return { path, message: `must not list the same value twice (items ${String(params.j)} and ${String(params.i)} are equal)` }
    case 'pattern':
      return { path, message: patternRules.get(params.pattern) ?? 'is not in the accepted form' }
    case 'format':
      return { path, message: params.format === 'date-time' ? 'must be a date and time, as 2026-05-04T09:30:00Z' : `must be a valid ${String(params.format)}` }
    case 'enum':
      return { path, message: `must be ${oneOf(params.allowedValues)}` }
    case 'const':
      return { path, message: `must be ${quoted(params.allowedValue)}` }
    default:
      return { path, message: issue.message ?? 'is invalid' }
  }
}

/**
 * A union that matched no branch is one error on its field, not one per branch: "must be one of `online`, `busy`,
 * `offline`", "must be a string or null".
 */
function wordUnion (union: SchemaIssue, branches: SchemaIssue[]): { path: string, message: string } {
  const here = branches.filter((issue) => issue.instancePath === union.instancePath)
  if (here.length > 0 && here.every((issue) => issue.keyword === 'const')) {
    return { path: union.instancePath, message: `must be ${oneOf(here.map((issue) => issue.params.allowedValue))}` }
  }
  if (here.length > 0 && here.every((issue) => issue.keyword === 'type')) {
    return { path: union.instancePath, message: `must be ${here.map((issue) => typeWords[issue.params.type] ?? issue.params.type).join(' or ')}` }
  }
  const ways = [...new Set(here.map((issue) => word(issue).message))]
  return { path: union.instancePath, message: ways.length === 0 ? 'does not match any of the allowed forms' : ways.join(', or ') }
}

/** Ajv's issues with one request part, worded: each names its field and says the rule. */
export function fieldErrors (issues: SchemaIssue[], part: string): FieldError[] {
  const unions = issues.filter((issue) => issue.keyword === 'anyOf')
  const branchOf = (issue: SchemaIssue) => unions.find((union) => issue.schemaPath.startsWith(`${union.schemaPath}/`))
  return issues
    .filter((issue) => branchOf(issue) === undefined)
    .map((issue) => issue.keyword === 'anyOf' ? wordUnion(issue, issues.filter((other) => branchOf(other) === issue)) : word(issue))
    .map(({ path, message }) => ({ in: part, path: path === '' ? '/' : path, message }))
}

/** A field as a reader names it: `memberIds[2]` for `/memberIds/2`; `the body` for `/`. */
function fieldName (error: FieldError): string {
  if (error.path === '/') return error.in === 'body' ? 'the body' : `the ${error.in}`
  const segments = error.path.slice(1).split('/').map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
  return `\`${segments.map((part, i) => /^\d+$/.test(part) ? `[${part}]` : `${i === 0 ? '' : '.'}${part}`).join('')}\``
}

/** The problem's detail: every error, each naming its field. */
export function validationDetail (errors: FieldError[]): string {
  return `The request does not match the schema: ${errors.map((error) => `${fieldName(error)} ${error.message}`).join('; ')}.`
}
