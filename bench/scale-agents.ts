// The simulated node agents' process (bench/scale-simulated.ts), run by Bun as the shipped agent
// is: given the spec as its argument, it makes the nodes, lists and watches the NodeSlicePools,
// says `{"ready":true}`, then runs each phase named on its stdin (ADD: every node; DEL: every
// `delEvery`-th node) and answers its result as one JSON line, until `close`.
import { createInterface } from "node:readline";
import { type AgentsSpec, everyNode, sharedNodeSlices, simulatedNode } from "./scale-simulated.ts";

const spec = JSON.parse(process.argv[2]!) as AgentsSpec;
const shared = await sharedNodeSlices(spec.kubeconfig);
const nodes = spec.nodes.map((n) => simulatedNode(n, shared));
// Listed and watching, as on nodes whose agents run already.
for (const net of spec.networks) await shared.view.getNodeSlicePool(net.name);
for (let waited = 0; !shared.view.watching; waited += 50) {
  if (waited > 60_000) throw new Error("the NodeSlicePool watch did not start within 60 s");
  await new Promise((resolve) => setTimeout(resolve, 50));
}
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line === "ADD" || line === "DEL") {
    const calling = line === "ADD" ? nodes : nodes.filter((_, n) => n % spec.delEvery === 0);
    const result = await everyNode(line, calling, spec.networks, spec.inFlight[line]);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else break;
}
await Promise.all(nodes.map((node) => node.close()));
await shared.close();
process.exit(0);
