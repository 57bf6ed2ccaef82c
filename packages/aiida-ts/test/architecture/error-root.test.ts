import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * `errors.ts` promises that every error aiida-ts throws is an `AiidaError`, so a user catches one root. This
 * test reads every source file's syntax tree and lists each place that builds a built-in error instead
 * (`new Error(…)`, `TypeError(…)`, `class X extends RangeError`, `throw 'text'`), and each error made inside a
 * `catch` without `{ cause }`, so the promise stays true.
 */
const src = fileURLToPath(new URL('../../src/', import.meta.url));
const BUILT_IN = new Set([
  'Error',
  'TypeError',
  'RangeError',
  'SyntaxError',
  'ReferenceError',
  'EvalError',
  'URIError',
  'AggregateError',
]);

/**
 * The page `verdi web` serves is bundled for the browser on its own: its errors never reach a caller of the package,
 * so it is not held to the package's error root.
 */
const BROWSER_CODE = path.join('web', 'page');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return full.endsWith(BROWSER_CODE) ? [] : sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** `new Error().stack` only reads the call stack: no error is thrown, so it is allowed. */
function isStackCapture(node: ts.NewExpression): boolean {
  return (
    (node.arguments?.length ?? 0) === 0 &&
    ts.isPropertyAccessExpression(node.parent) &&
    node.parent.name.text === 'stack'
  );
}

function plainErrors(file: string, text = readFileSync(file, 'utf8')): string[] {
  const tree = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const where = (node: ts.Node): string => {
    const { line } = tree.getLineAndCharacterOfPosition(node.getStart(tree));
    return `${path.relative(src, file)}:${line + 1}: ${node.getText(tree).split('\n')[0]}`;
  };
  const visit = (node: ts.Node, inCatch: boolean): void => {
    if (ts.isCatchClause(node)) {
      ts.forEachChild(node.block, (child) => visit(child, true));
      return;
    }
    // an error made while handling another wraps it, and must say so with `{ cause }`
    if (
      inCatch &&
      ts.isNewExpression(node) &&
      /Error$/.test(node.expression.getText(tree)) &&
      !(node.arguments ?? []).some((argument) => /\bcause\b/.test(argument.getText(tree)))
    ) {
      found.push(`${where(node)} (no cause)`);
    }
    if (
      (ts.isNewExpression(node) || ts.isCallExpression(node)) &&
      ts.isIdentifier(node.expression) &&
      BUILT_IN.has(node.expression.text) &&
      !(ts.isNewExpression(node) && isStackCapture(node))
    ) {
      found.push(where(node));
    }
    if (ts.isClassLike(node)) {
      for (const clause of node.heritageClauses ?? []) {
        for (const type of clause.types) {
          const base = type.expression;
          const isRoot = node.name?.text === 'AiidaError' && path.basename(file) === 'errors.ts';
          if (ts.isIdentifier(base) && BUILT_IN.has(base.text) && !isRoot) found.push(where(node));
        }
      }
    }
    if (ts.isThrowStatement(node)) {
      const thrown = node.expression;
      if (
        ts.isStringLiteralLike(thrown) ||
        ts.isTemplateExpression(thrown) ||
        ts.isObjectLiteralExpression(thrown)
      ) {
        found.push(where(node));
      }
    }
    ts.forEachChild(node, (child) => visit(child, inCatch));
  };
  visit(tree, false);
  return found;
}

describe('one error root', () => {
  it('builds no built-in error anywhere in src (AiidaError subclasses only), and every wrap has a cause', () => {
    const files = sourceFiles(src);
    expect(files.length).toBeGreaterThan(100);
    expect(files.flatMap((file) => plainErrors(file))).toEqual([]);
  });

  it('finds each kind of plain error and allows reading the stack', () => {
    // the scan is tested on known offences, so the empty list above means something
    const sample = [
      "throw new Error('a');",
      "throw TypeError('b');",
      'class Bad extends RangeError {}',
      "throw 'c';",
      'const stack = new Error().stack;',
      "throw new ValidationError('fine');",
      "try { f(); } catch (error) { throw new ValidationError('lost'); }",
      "try { f(); } catch (error) { throw new ValidationError('kept', [], { cause: error }); }",
    ].join('\n');
    const found = plainErrors(path.join(src, 'sample.ts'), sample).map((hit) => hit.split(':')[1]);
    expect(found).toEqual(['1', '2', '3', '4', '7']);
  });
});
