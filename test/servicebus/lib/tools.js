'use strict';
// The npm packages under test/tools (installed by `make tools`).

const path = require('path');

const modules = path.join(__dirname, '..', '..', 'tools', 'node_modules');

function tool(name) {
  return require(path.join(modules, name));
}

module.exports = { rhea: tool('rhea'), tool, modules };
