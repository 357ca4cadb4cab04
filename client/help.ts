// The help texts, `vsync --help` and `vsync <command> --help`, made from the command table. Plain text, no colour.
import type { OptionSpec } from './command.js';
import { COMMAND_TABLE, type CommandName, type CommandSpecs, commandSpec } from './command-table.js';

/** Where a row's text starts in a command's help, at the least: after `-h, --help` and two spaces. */
const ROW_WIDTH = 13;
/** And in the global list of commands: after `daemon install|uninstall` and room to spare. */
const COMMAND_WIDTH = 28;

/** `  <label>  <text>` rows, the texts lined up; a text's further lines go under its first. */
function rows(entries: readonly (readonly [string, string])[], width: number): string[] {
  return entries.map(([label, text]) => `  ${label.padEnd(width)}${text.replaceAll('\n', `\n${' '.repeat(2 + width)}`)}`);
}

function widthOf(labels: readonly string[]): number {
  return Math.max(ROW_WIDTH, ...labels.map((label) => label.length + 2));
}

function common(spec?: CommandSpecs, width = ROW_WIDTH): string[] {
  const json = spec?.json ?? 'print the result as one line of JSON (errors too, on stderr)';
  const help = ['-h, --help', 'print this text'] as const;
  return rows(spec?.noJson !== undefined ? [help] : [['--json', json], help], width);
}

const optionLabel = (o: OptionSpec) => `--${o.name}${o.value === undefined ? '' : ` <${o.value}>`}`;

/** `<name> <positionals>` and the summary; or each of the forms, on a line of its own when it is too long. */
function summaryLines(spec: CommandSpecs): string[] {
  const words = [spec.name, ...spec.positionals, ...(spec.trailing ? [spec.trailing] : [])];
  const forms = typeof spec.summary === 'string' ? [[words.join(' '), spec.summary] as const] : spec.summary;
  return forms.flatMap(([form, text]) => {
    const indented = text.replaceAll('\n', `\n${' '.repeat(2 + COMMAND_WIDTH)}`);
    return form.length + 2 > COMMAND_WIDTH
      ? [`  ${form}`, `${' '.repeat(2 + COMMAND_WIDTH)}${indented}`]
      : [`  ${form.padEnd(COMMAND_WIDTH)}${indented}`];
  });
}

function globalHelp(): string {
  return `usage: vsync <command> [options]

commands:
${COMMAND_TABLE.flatMap(summaryLines).join('\n')}

options:
  -V, --version  print the version (so does \`vsync version\`)
${common(undefined, '-V, --version'.length + 2).join('\n')}

environment:
  VSYNC_SOCKET          the agent's socket (default $XDG_RUNTIME_DIR/vsync/vsyncd.sock,
                        else /tmp/vsync-<uid>/vsyncd.sock)
  VSYNC_NO_AUTOSTART=1  never start the agent; fail when none answers

Run \`vsync help <command>\` (or \`vsync <command> --help\`) for a command's options.
`;
}

function commandHelp(spec: CommandSpecs): string {
  const forms = spec.usage ?? [
    [
      'vsync',
      spec.name,
      ...spec.positionals,
      ...spec.options.map((o) => `[${optionLabel(o)}]`),
      ...(spec.trailing ? [spec.trailing] : []),
    ].join(' '),
  ];
  const blocks = [`usage: ${forms.join('\n       ')}`];
  if (spec.about !== undefined) blocks.push(spec.about);
  const actions = (spec.actions ?? []).flatMap((a) => (a.help === undefined ? [] : [[a.name, a.help] as const]));
  if (actions.length > 0) blocks.push(rows(actions, widthOf(actions.map(([name]) => name))).join('\n'));
  const options = spec.options.map((o) => [optionLabel(o), o.help] as const);
  const width = widthOf(options.map(([label]) => label));
  blocks.push([...rows(options, width), ...common(spec, width)].join('\n'));
  return `${blocks.join('\n\n')}\n`;
}

export function helpText(topic?: CommandName): string {
  return topic === undefined ? globalHelp() : commandHelp(commandSpec(topic));
}
