/**
 * Every credential the tests hand to iris, in one place. The values are distinctive so that the secret
 * scan of `npm test` (test/run.ts → test/secret-scan.ts) finds them in any log or test output they leak
 * into, and finds nothing else. A test that needs a token, key or signing secret imports it from here;
 * a new secret goes here too, or the scan cannot look for it.
 */

export const SECRETS = {
  /** DISCORD_TOKEN of the Discord harness. */
  discordToken: 'iris-test-discord-token-Q7wX2kLm9pRt',
  /** DISCORD_TOKEN of the `iris start` Discord test. */
  discordStartToken: 'iris-test-discord-start-token-Vb3nZc8Hs1',
  /** SLACK_BOT_TOKEN served by the fake Slack. */
  slackBotToken: 'xoxb-iris-test-bot-token-4Jd9sKq2Lw',
  /** SLACK_APP_TOKEN (Socket Mode) served by the fake Slack. */
  slackAppToken: 'xapp-iris-test-app-token-8Rt5yUi1Op',
  /** SLACK_SIGNING_SECRET of the Slack harness. */
  slackSigningSecret: 'iris-test-slack-signing-secret-Hn6gFd2Sa0',
  /** SLACK_SIGNING_SECRET of the `iris start` Slack test. */
  slackStartSigningSecret: 'iris-test-slack-start-signing-Mz4xCv7Bn5',
  /** A bot token some tests give iris's own config (dispatch tests). */
  slackConfigToken: 'xoxb-iris-test-config-token-Pq1wEr3Ty6',
  /** GROQ_API_KEY accepted by the fake OpenAI-compatible server. */
  groqKey: 'gsk_irisTestGroqKey_Uy7tRe5Wq3',
  /** A second accepted Groq key (CLI and dispatch tests run their own fake). */
  groqCliKey: 'gsk_irisTestGroqCliKey_Lk9jHg7Fd5',
  /** A key the fake refuses (401). */
  groqWrongKey: 'gsk_irisTestWrongKey_Zx2cVb4Nm6',
  /** HF_TOKEN accepted by the fake hub. */
  hfToken: 'hf_irisTestHubToken_As8dFg6Hj4',
  /** A token the fake hub refuses. */
  hfWrongToken: 'hf_irisTestWrongHubToken_Qw3eRt5Yu7',
  /** A user token (wrong kind) that `iris doctor` must judge without printing. */
  slackUserToken: 'xoxp-iris-test-user-token-Gf5hJk7Lz9',
  /** A Discord-shaped token for `iris doctor`'s format check. */
  discordShapedToken: 'MTA1234567890123456789.GabcDE.irisTestDiscordShapedTokenXy01234',
  /** A key with characters URL encoding changes (+, /, =): upstreams may echo it percent-encoded. */
  encodableKey: 'irisTest+Encodable/Key=Mn3bVc',
  /** A credential in a signed attachment URL's query string. */
  signedUrlToken: 'irisTestSignedUrlToken_Ok2iJu8Yh6',
};

export type SecretName = keyof typeof SECRETS;

/** [name, value] pairs for the scan. */
export function secretList(): [SecretName, string][] {
  return Object.entries(SECRETS) as [SecretName, string][];
}
