/**
 * Words for volume messages, most frequent first: message n draws its words from this list with a skew towards the
 * front (a few words are in most messages, most words in few), as in real chat. The accented ones exist to be found
 * without their accents.
 */
export const chatWords = [
  'the', 'i', 'to', 'you', 'a', 'and', 'it', 'is', 'we', 'that', 'for', 'on', 'can', 'deploy', 'this', 'be', 'in',
  'will', 'have', 'just', 'ok', 'not', 'what', 'with', 'so', 'do', 'today', 'meeting', 'now', 'thanks', 'lunch', 'are',
  'build', 'review', 'if', 'tomorrow', 'yes', 'no', 'there', 'at', 'back', 'please', 'need', 'merge', 'test', 'fix',
  'bug', 'release', 'call', 'later', 'think', 'know', 'team', 'update', 'ticket', 'coffee', 'morning', 'server',
  'should', 'good', 'done', 'check', 'branch', 'staging', 'customer', 'issue', 'working', 'looks', 'sure', 'again',
  'question', 'plan', 'week', 'friday', 'monday', 'design', 'doc', 'link', 'share', 'screen', 'logs', 'error',
  'timeout', 'database', 'query', 'index', 'cache', 'queue', 'worker', 'latency', 'dashboard', 'alert', 'rollback',
  'hotfix', 'sprint', 'retro', 'standup', 'demo', 'slides', 'budget', 'invoice', 'contract', 'holiday', 'vacation',
  'weekend', 'birthday', 'cake', 'pizza', 'train', 'traffic', 'weather', 'rain', 'sunny', 'office', 'remote',
  'laptop', 'keyboard', 'monitor', 'headphones', 'wifi', 'password', 'account', 'login', 'token', 'cluster',
  'migration', 'schema', 'backup', 'restore', 'outage', 'incident', 'postmortem', 'roadmap', 'feature', 'feedback',
  'interview', 'candidate', 'onboarding', 'café', 'résumé', 'naïve', 'zürich', 'façade', 'jalapeño', 'señor',
  'crème', 'brûlée', 'piñata', 'über', 'déjà', 'vu', 'fiancé', 'soirée', 'kafka', 'postgres', 'redis', 'kubernetes',
  'terraform', 'grafana', 'prometheus', 'nginx', 'docker', 'typescript', 'fastify', 'bullmq', 'kysely'
] as const

/** Words each in about one message of 10,000: a search for one finds a handful of messages in a million. */
export const rareWords = [
  'quokka', 'axolotl', 'narwhal', 'pangolin', 'okapi', 'capybara', 'tardigrade', 'platypus', 'wombat', 'ibex'
] as const

/**
 * Syllables of the long tail: two or three of them make a word (about 20,000 forms, most in a few messages each),
 * as names, typos and jargon do in real chat. Without a tail, every word would be common and Postgres's statistics
 * would misjudge how rare a rare word is.
 */
export const tailSyllables = [
  'ka', 'lo', 'mi', 'ren', 'tu', 'sa', 'vo', 'der', 'pi', 'nax', 'quo', 'zel', 'bri', 'ton', 'ga', 'fe', 'hul', 'jin',
  'wa', 'ry', 'os', 'eth', 'un', 'cal', 'dro', 'mek', 'ple', 'sto'
] as const
