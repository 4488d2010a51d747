// Line-protocol wrappers of npm libraries that write config files, for
// harness/survey.sh: each installs the token with the library's own file
// writing, as its README shows. The target is the Claude settings.json.
//
//   node node_tools.mjs TOOL PATH      (one token per line in; ok / err out)
//
// write-file-atomic  JSON.parse, set, writeFileAtomic.sync(PATH, JSON)
// conf               new Conf({cwd, configName}).set("env.ANTHROPIC_AUTH_TOKEN", t)
// configstore        new Configstore(id, {}, {configPath: PATH}).set(...)
// jsonfile           jsonfile.readFileSync / writeFileSync(PATH, obj, {spaces: 2})
// fs-extra           fs.readJsonSync / outputJsonSync(PATH, obj, {spaces: 2})
import { createRequire } from "node:module";
import path from "node:path";
import fs from "node:fs";
import readline from "node:readline";

const require = createRequire(process.env.TORN_SURVEY_NODE_MODULES + "/");
const [tool, target] = process.argv.slice(2);
const KEY = "ANTHROPIC_AUTH_TOKEN";

async function load(name) {
  return import(require.resolve(name));
}

async function updater() {
  switch (tool) {
    case "write-file-atomic": {
      const wfa = (await load("write-file-atomic")).default;
      return (t) => {
        const doc = JSON.parse(fs.readFileSync(target, "utf8"));
        doc.env[KEY] = t;
        wfa.sync(target, JSON.stringify(doc, null, 2) + "\n");
      };
    }
    case "conf": {
      const Conf = (await load("conf")).default;
      const conf = new Conf({
        cwd: path.dirname(target),
        configName: path.basename(target, ".json"),
        projectName: "torn-survey",
      });
      return (t) => conf.set(`env.${KEY}`, t);
    }
    case "configstore": {
      const Configstore = (await load("configstore")).default;
      const store = new Configstore("torn-survey", {}, { configPath: target });
      return (t) => store.set(`env.${KEY}`, t);
    }
    case "jsonfile": {
      const jsonfile = (await load("jsonfile")).default;
      return (t) => {
        const doc = jsonfile.readFileSync(target);
        doc.env[KEY] = t;
        jsonfile.writeFileSync(target, doc, { spaces: 2 });
      };
    }
    case "fs-extra": {
      const fse = (await load("fs-extra")).default;
      return (t) => {
        const doc = fse.readJsonSync(target);
        doc.env[KEY] = t;
        fse.outputJsonSync(target, doc, { spaces: 2 });
      };
    }
    default:
      throw new Error(`unknown tool ${tool}`);
  }
}

const update = await updater();
const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  try {
    update(line.trim());
    process.stdout.write("ok\n");
  } catch (e) {
    process.stdout.write(`err ${String(e).replace(/\n/g, " ")}\n`);
  }
}
