import assert from "node:assert/strict";
import { test } from "node:test";
import { MultusInputError } from "./errors.ts";
import {
  checkDefaultRoutes,
  checkIsolation,
  isMac,
  parseDefaultNetwork,
  parseSelections,
} from "./selection.ts";

test("comma form: name, ns/name, name@if, ns/name@if, repeats kept, whitespace trimmed, pod namespace filled", () => {
  assert.deepEqual(parseSelections("macvlan-conf, other/br@br0 ,macvlan-conf@extra, macvlan-conf", "pods"), [
    { name: "macvlan-conf", namespace: "pods" },
    { name: "br", namespace: "other", interfaceRequest: "br0" },
    { name: "macvlan-conf", namespace: "pods", interfaceRequest: "extra" },
    { name: "macvlan-conf", namespace: "pods" },
  ]);
  assert.deepEqual(parseSelections("", "pods"), []);
});

const annotationError = (message: string) => (e: unknown) =>
  e instanceof MultusInputError && e.code === 7 && e.message === message;

test("comma form: Multus' texts for each malformed item", () => {
  assert.throws(
    () => parseSelections("a/b/c", "ns"),
    annotationError(
      "parsePodNetworkAnnotation: parsePodNetworkObjectName: Invalid network object (failed at '/')",
    ),
  );
  assert.throws(
    () => parseSelections("a@b@c", "ns"),
    annotationError(
      "parsePodNetworkAnnotation: parsePodNetworkObjectName: Invalid network object (failed at '@')",
    ),
  );
  assert.throws(
    () => parseSelections("ok, Bad_Name", "ns"),
    annotationError(
      "parsePodNetworkAnnotation: parsePodNetworkObjectName: Failed to parse: one or more items did not match comma-delimited format (must consist of lower case alphanumeric characters). Must start and end with an alphanumeric character), mismatch @ 'Bad_Name'",
    ),
  );
  assert.throws(() => parseSelections("a,", "ns"), /mismatch @ ''/);
  assert.throws(
    () => parseSelections("net@averyveryverylongname", "ns"),
    annotationError(
      "parsePodNetworkAnnotation: parsePodNetworkObjectName: Failed to parse interface name: must be less than 15 chars and not contain '/' or spaces. interface name 'averyveryverylongname'",
    ),
  );
});

test("JSON form: every key of a network selection element", () => {
  const [s] = parseSelections(
    JSON.stringify([
      {
        name: "sriov",
        namespace: "net",
        interface: "data0",
        ips: ["10.1.1.5/24", "fd00::5"],
        mac: "c2:b0:57:49:47:f1",
        "default-route": ["10.1.1.1"],
        portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }],
        bandwidth: { ingressRate: 1000, egressRate: 2000 },
        "cni-args": { foo: "bar" },
        "infiniband-guid": "c2:b0:57:49:47:f1:00:01",
        deviceID: "0000:03:00.1",
      },
    ]),
    "pods",
  );
  assert.deepEqual(s, {
    name: "sriov",
    namespace: "net",
    interfaceRequest: "data0",
    ips: ["10.1.1.5/24", "fd00::5"],
    mac: "c2:b0:57:49:47:f1",
    infinibandGuid: "c2:b0:57:49:47:f1:00:01",
    defaultRoute: ["10.1.1.1"],
    portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }],
    bandwidth: { ingressRate: 1000, egressRate: 2000 },
    cniArgs: { foo: "bar" },
    deviceId: "0000:03:00.1",
  });
});

test("JSON form: empty namespace is the pod's, interfaceRequest is the deprecated alias, default-route [] is a request", () => {
  assert.deepEqual(
    parseSelections('[{"name":"a","namespace":"","interfaceRequest":"x1","default-route":[]}]', "pods"),
    [{ name: "a", namespace: "pods", interfaceRequest: "x1", defaultRoute: [] }],
  );
});

test("JSON form: Multus' texts for bad JSON, a bare object, wrong types and bad requests", () => {
  const prefix =
    "parsePodNetworkAnnotation: failed to parse pod Network Attachment Selection Annotation JSON format: ";
  assert.throws(
    () => parseSelections('[{"name": "a",}]', "ns"),
    (e: unknown) => e instanceof MultusInputError && e.message.startsWith(`${prefix}invalid character`),
  );
  assert.throws(
    () => parseSelections('{"name":"a"}', "ns"),
    annotationError(
      `${prefix}json: cannot unmarshal object into Go value of type []*types.NetworkSelectionElement`,
    ),
  );
  assert.throws(
    () => parseSelections('[{"name":1}]', "ns"),
    annotationError(
      `${prefix}json: cannot unmarshal number into Go struct field NetworkSelectionElement.name of type string`,
    ),
  );
  assert.throws(
    () => parseSelections('[{"name":"a","default-route":["x"]}]', "ns"),
    annotationError(`${prefix}invalid IP address: x`),
  );
  assert.throws(
    () => parseSelections('[{"name":"a","mac":"zz:zz"}]', "ns"),
    annotationError("parsePodNetworkAnnotation: failed to mac: address zz:zz: invalid MAC address"),
  );
  assert.throws(
    () => parseSelections('[{"name":"a","ips":["10.0.0.1/33"]}]', "ns"),
    annotationError('failed to parse CIDR "10.0.0.1/33": invalid CIDR address: 10.0.0.1/33'),
  );
  assert.throws(
    () => parseSelections('[{"name":"a","ips":["10.0.0.300"]}]', "ns"),
    annotationError('failed to parse IP address "10.0.0.300"'),
  );
});

test("isMac: Go's 6-, 8- and 20-byte forms with : - or .", () => {
  for (const ok of [
    "c2:b0:57:49:47:f1",
    "C2-B0-57-49-47-F1",
    "c2b0.5749.47f1",
    "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01",
    "c2:b0:57:49:47:f1:00:01",
  ]) {
    assert.ok(isMac(ok), ok);
  }
  for (const bad of ["", "c2:b0:57:49:47", "c2:b0:57:49:47:f1:00", "c2:b0-57:49:47:f1", "g2:b0:57:49:47:f1"])
    assert.ok(!isMac(bad), bad);
});

test("default-network annotation: one NAD in multusNamespace by default; more than one is refused", () => {
  assert.deepEqual(parseDefaultNetwork("calico", "kube-system"), {
    name: "calico",
    namespace: "kube-system",
  });
  assert.equal(parseDefaultNetwork("", "kube-system"), undefined);
  assert.throws(
    () => parseDefaultNetwork("a,b", "kube-system"),
    annotationError("tryLoadK8sPodDefaultNetwork: more than one default network is specified: a,b"),
  );
});

test("namespace isolation: own and global namespaces pass, others give Multus' text", () => {
  const selections = parseSelections("a, default/b, shared/c", "pods");
  checkIsolation(selections, "pods", ["default", "shared"]);
  assert.throws(
    () => checkIsolation(selections, "pods", ["default"]),
    annotationError(
      "GetNetworkDelegates: namespace isolation enabled, annotation violates permission, pod is in namespace pods but refers to target namespace shared",
    ),
  );
});

test("default-route: one gateway per family at most (no ECMP)", () => {
  checkDefaultRoutes([["10.0.0.1", "fd00::1"], undefined, []]);
  assert.throws(
    () => checkDefaultRoutes([["10.0.0.1"], ["10.0.1.1"]]),
    annotationError("multus does not support ECMP for default-route"),
  );
  assert.throws(() => checkDefaultRoutes([["fd00::1", "fd01::1"]]), /ECMP/);
});
