// Drive clerk-mcp with one installed version of @modelcontextprotocol/sdk and print what the client shows.
//
//   node sdk_driver.mjs SDK_PACKAGE SCENARIO_JSON stdio COMMAND [ARGS...]
//   node sdk_driver.mjs SDK_PACKAGE SCENARIO_JSON http URL
//
// SDK_PACKAGE is an npm alias from package.json ("sdk-latest", "sdk-1-23"). SCENARIO_JSON is the list of steps
// written by tests/clients/scenario.py: {leg, tool, arguments, answer, elicitation}; a step without `tool` lists the
// tools. Two clients connect: one declaring the elicitation capability (its handler returns the step's `answer`),
// one without it. Prints one JSON object {leg: observation} on stdout, where an observation is what the client
// hands its caller: {tools: [names]}, {is_error, text, structured}, or {thrown: message} when the SDK throws.
// Judging is left to the Python side, so every client in the matrix is held to the same checks.

const [sdkPackage, scenarioJson, transport, ...target] = process.argv.slice(2);
const { Client } = await import(`${sdkPackage}/client/index.js`);
const { StdioClientTransport } = await import(`${sdkPackage}/client/stdio.js`);
const { StreamableHTTPClientTransport } = await import(`${sdkPackage}/client/streamableHttp.js`);
const { ElicitRequestSchema } = await import(`${sdkPackage}/types.js`);

const steps = JSON.parse(scenarioJson);
let answer = { action: "decline" };

function connectTransport() {
  if (transport === "stdio") {
    const [command, ...args] = target;
    return new StdioClientTransport({ command, args, env: process.env, stderr: "ignore" });
  }
  return new StreamableHTTPClientTransport(new URL(target[0]));
}

async function connect(elicitation) {
  const client = new Client(
    { name: "clerk-mcp-matrix", version: "1.0.0" },
    { capabilities: elicitation ? { elicitation: {} } : {} },
  );
  if (elicitation) client.setRequestHandler(ElicitRequestSchema, async () => answer);
  await client.connect(connectTransport());
  await client.listTools(); // as hosts do: the SDK then checks every result against the tool's outputSchema
  return client;
}

function shown(result) {
  const text = (result.content ?? []).filter((block) => block.type === "text").map((block) => block.text).join("\n");
  return { is_error: Boolean(result.isError), text, structured: result.structuredContent ?? null };
}

const clients = { true: await connect(true), false: await connect(false) };
const observations = {};
for (const step of steps) {
  const client = clients[step.elicitation];
  answer = step.answer ?? { action: "decline" };
  try {
    if (!step.tool) {
      observations[step.leg] = { tools: (await client.listTools()).tools.map((tool) => tool.name) };
    } else {
      observations[step.leg] = shown(await client.callTool({ name: step.tool, arguments: step.arguments }));
    }
  } catch (error) {
    observations[step.leg] = { thrown: String(error?.message ?? error) };
  }
}
await Promise.all(Object.values(clients).map((client) => client.close()));
process.stdout.write(JSON.stringify(observations) + "\n");
