// A TypeDoc plugin: the API site's sidebar follows the pipeline instead of TypeDoc's
// kinds (Classes, Functions, Interfaces…, operators at the bottom of ~115 entries).
//
// Each export gets a @group from the folder it is declared in (src/gpio → GPIO, and so
// on), so a new export lands in its stage without anyone tagging it; the six operators
// form the first group, in pipeline order; error classes and the contracts operators
// share (rejections, the writers' queue, durations) go to "Errors and shared options". An explicit @group in a doc
// comment wins. typedoc.json's groupOrder orders the groups; test/docs.test.ts checks
// the generated navigation.
import { Comment, CommentTag, Converter, ReflectionKind, RendererEvent } from 'typedoc';
import { relative, sep } from 'node:path';

/** The operators, in the order data flows through them. */
export const OPERATORS = ['fromGpioButton', 'toMqtt', 'fromMqtt', 'parseAccessLog', 'windowedCount', 'cassandraSink'];

/** Source folder (under src/) → group. */
const FOLDER_GROUPS = {
  gpio: 'GPIO',
  files: 'Files',
  payload: 'Payload',
  mqtt: 'MQTT',
  accesslog: 'Access logs',
  window: 'Windows',
  durable: 'Windows',
  aggregate: 'Windows',
  cassandra: 'Cassandra',
  observe: 'Observability',
};

/** The group of a top-level export, from its name and the file that declares it. */
export function pipelineGroup(name, file) {
  if (OPERATORS.includes(name)) return 'Operators';
  if (/Error$/.test(name) || /^(reject|writeQueue|duration)\.ts$/.test(file)) return 'Errors and shared options';
  const folder = file.split('/')[0];
  return FOLDER_GROUPS[folder] ?? 'Other';
}

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    // Top-level exports only: of the project, or of an entry point's module.
    if (reflection.parent !== context.project && reflection.parent?.parent !== context.project) return;
    if (reflection.kindOf(ReflectionKind.Module)) return;
    const declaration = context.getSymbolFromReflection(reflection)?.declarations?.[0];
    if (declaration === undefined) return;
    const file = relative('src', relative(process.cwd(), declaration.getSourceFile().fileName)).split(sep).join('/');
    const comment = (reflection.comment ??= new Comment());
    const tagged =
      comment.blockTags.some((tag) => tag.tag === '@group') ||
      reflection.signatures?.some((signature) => signature.comment?.blockTags.some((tag) => tag.tag === '@group'));
    if (!tagged)
      comment.blockTags.push(new CommentTag('@group', [{ kind: 'text', text: pipelineGroup(reflection.name, file) }]));
  });

  // Groups list their members by kind, then alphabetically; the operators read best
  // in the order the data flows.
  app.renderer.on(RendererEvent.BEGIN, (event) => {
    for (const container of [event.project, ...(event.project.children ?? [])]) {
      const operators = container.groups?.find((group) => group.title === 'Operators');
      operators?.children.sort((a, b) => OPERATORS.indexOf(a.name) - OPERATORS.indexOf(b.name));
    }
  });
}
