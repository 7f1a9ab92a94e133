import t from 'tap'
import { testConfig } from '../harness/test-config.js'
import { createUser, testApp } from './helper.js'

const config = await testConfig(t)
const app = await testApp(t, config)

t.test('GET /metrics reports requests by route, waiters, queue depth and cache use', async (t) => {
  const ada = await createUser(app, 'ada_metrics')
  await app.inject({ url: '/v1/users', headers: ada.auth })
  await app.inject({ url: '/v1/users', headers: ada.auth })

  const response = await app.inject('/metrics')
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /^text\/plain/)
  const text = response.body
  t.match(text, /pigeon_http_request_duration_seconds_count\{method="GET",route="\/v1\/users",status_code="200"\} 2/)
  t.match(text, /pigeon_http_request_duration_seconds_count\{method="POST",route="\/v1\/auth\/register",status_code="201"\} 1/)
  t.match(text, /pigeon_users_cache_requests_total\{result="miss"\} 1/)
  t.match(text, /pigeon_users_cache_requests_total\{result="hit"\} 1/)
  t.match(text, /pigeon_longpoll_waiters\{kind="feed"\} 0/)
  t.match(text, /pigeon_queue_jobs\{queue="tasks",state="waiting"\} 0/)
})

t.test('unknown URLs share one route label', async (t) => {
  await app.inject('/no/such/thing/1')
  await app.inject('/no/such/thing/2')
  const text = (await app.inject('/metrics')).body
  t.match(text, /route="unmatched",status_code="404"\} 2/)
  t.notMatch(text, /no\/such/)
})
