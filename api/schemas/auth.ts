import { Type } from 'typebox'
import { storableTextPattern } from '../../core/text.js'
import { DisplayNameSchema, PasswordSchema, UsernameSchema } from './users.js'

export const RegisterBodySchema = Type.Object({
  username: UsernameSchema,
  password: PasswordSchema,
  displayName: Type.Optional(DisplayNameSchema)
}, { additionalProperties: false })

export const TokenBodySchema = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 64, pattern: storableTextPattern, examples: ['user_1'] }),
  password: Type.String({ minLength: 1, maxLength: 256, examples: ['Passw0rd!'] })
}, { additionalProperties: false })

export const RefreshBodySchema = Type.Object({
  refreshToken: Type.String({
    minLength: 1,
    maxLength: 4096,
    description: 'The `refreshToken` of the last login or refresh',
    examples: ['eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIiwidHlwIjoicmVmcmVzaCJ9.bm90LWEtcmVhbC1zaWduYXR1cmU']
  })
}, { additionalProperties: false })

export const TokensSchema = Type.Object({
  accessToken: Type.String(),
  refreshToken: Type.String(),
  tokenType: Type.Literal('Bearer'),
  expiresIn: Type.Integer({ description: 'Seconds until the access token expires' })
})
