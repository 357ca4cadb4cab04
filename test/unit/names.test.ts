import t from 'tap';
import { assertEnvName, assertRepoName, normaliseRepoName } from '../../shared/names.js';

t.test('env names', async (t) => {
  for (const ok of ['dev', 'production', 'qa-2', 'a', 'e_x', 'a'.repeat(64)]) t.doesNotThrow(() => assertEnvName(ok), ok);
  for (const bad of [
    '',
    'Dev',
    '1dev',
    '-dev',
    '_dev',
    '../x',
    '/abs',
    'dev/x',
    'dev.x',
    'dev x',
    'dév',
    'a'.repeat(65),
    'dev\n',
    '..',
    '.',
  ]) {
    t.throws(() => assertEnvName(bad), { code: 'NAME_INVALID', message: /env / }, JSON.stringify(bad));
  }
});

t.test('repo names', async (t) => {
  for (const ok of ['acme_web', 'vsync', 'a.b', '_x', '0', 'a'.repeat(100)]) t.doesNotThrow(() => assertRepoName(ok), ok);
  for (const bad of ['', '.', '..', '.x', '../x', '/abs', 'a/b', 'A', 'a-b', 'a b', 'a'.repeat(101), 'x\0']) {
    t.throws(() => assertRepoName(bad), { code: 'NAME_INVALID', message: /repo / }, JSON.stringify(bad));
  }
});

t.test('normalising remotes and folder names', async (t) => {
  const cases: Array<[string, string | undefined]> = [
    ['git@github.com:Acme/web.git', 'acme_web'],
    ['https://github.com/Acme/web.git', 'acme_web'],
    ['https://github.com/Acme/web', 'acme_web'],
    ['ssh://git@gitlab.example.com:2222/Group/Sub-Project.git', 'group_sub_project'],
    ['https://gitlab.com/group/subgroup/proj.git', 'subgroup_proj'],
    ['git@host.example:proj.git', 'proj'],
    ['/srv/git/proj.git', 'git_proj'],
    ['file:///srv/git/proj.git', 'git_proj'],
    ['https://github.com/Acme/web.git/', 'acme_web'],
    ['My-Project', 'my_project'],
    ['vsync', 'vsync'],
    ['.hidden', 'hidden'],
    ['日本', undefined],
    ['', undefined],
    ['x'.repeat(150), 'x'.repeat(100)],
  ];
  for (const [raw, expected] of cases) t.equal(normaliseRepoName(raw), expected, raw);
});
