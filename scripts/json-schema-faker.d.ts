// The converter's own json-schema-faker instance: setting its `random` option makes faked examples repeatable.
declare module 'openapi-to-postmanv2/assets/json-schema-faker.js' {
  const schemaFaker: { option: (options: { random?: () => number }) => void }
  export default schemaFaker
}
