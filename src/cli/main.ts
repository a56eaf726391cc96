// `tandem`: the engine without an editor.
console.error('usage: tandem inspect|complete|bench|convert ...');
process.exit(2);
