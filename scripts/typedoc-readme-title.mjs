// A TypeDoc plugin: one title on the site's front page. TypeDoc heads it with the
// project name, and the README (its content) starts with the same name as its own
// heading, which GitHub and npm need; the site drops the README's copy.
import { RendererEvent } from 'typedoc';

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.renderer.on(RendererEvent.BEGIN, (event) => {
    const first = event.project.readme?.[0];
    if (first?.kind !== 'text') return;
    const heading = `# ${event.project.name}\n`;
    if (first.text.startsWith(heading)) first.text = first.text.slice(heading.length).replace(/^\n+/, '');
  });
}
