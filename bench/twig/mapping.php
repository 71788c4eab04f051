<?php
// The PHP peer of benches/mapping.rs: the PHP app's mapping algorithm (MappingService::
// executeMapping: dot paths, Twig templates, unset, casts) on PHP Twig, templates compiled once,
// applied to the same input in a loop for about `seconds` seconds on one core.
// Usage: php mapping.php mapping.json [seconds]  →  {"objectsPerSecond": n, "result": {...}}
require '/usr/share/php/Twig/autoload.php';

use Twig\Environment;
use Twig\Loader\ArrayLoader;
use Twig\TwigFilter;

function dot_has(array $items, string $key): bool {
    if (empty($items)) return false;
    if (array_key_exists($key, $items)) return true;
    foreach (explode('.', $key) as $segment) {
        if (!is_array($items) || !array_key_exists($segment, $items)) return false;
        $items = $items[$segment];
    }
    return true;
}
function dot_get(array $items, string $key) {
    if (array_key_exists($key, $items)) return $items[$key];
    foreach (explode('.', $key) as $segment) {
        if (!is_array($items) || !array_key_exists($segment, $items)) return null;
        $items = $items[$segment];
    }
    return $items;
}
function dot_set(array &$items, string $key, $value): void {
    $current = &$items;
    foreach (explode('.', $key) as $segment) {
        if (!isset($current[$segment]) || !is_array($current[$segment])) $current[$segment] = [];
        $current = &$current[$segment];
    }
    $current = $value;
}
function dot_delete(array &$items, string $key): void {
    $segments = explode('.', $key);
    $last = array_pop($segments);
    $current = &$items;
    foreach ($segments as $segment) {
        if (!isset($current[$segment]) || !is_array($current[$segment])) return;
        $current = &$current[$segment];
    }
    unset($current[$last]);
}
function encode_keys(array $input): array {
    $out = [];
    foreach ($input as $key => $value) {
        $out[str_replace('.', '&#46;', (string) $key)] = is_array($value) ? encode_keys($value) : $value;
    }
    return $out;
}
function coordinate_string_to_array(string $coordinates): array {
    $halves = explode(' ', $coordinates);
    $pairs = []; $point = [];
    foreach ($halves as $half) {
        if (count($point) > 1) { $pairs[] = $point; $point = []; }
        $point[] = $half;
    }
    $pairs[] = $point;
    return count($pairs) === 1 ? $pairs[0] : $pairs;
}
function is_empty_array(array $value): bool {
    foreach ($value as $item) {
        if (is_array($item) ? !is_empty_array($item) : ($item !== '' && $item !== null)) return false;
    }
    return true;
}
function handle_cast(array $output, array $casts): array {
    foreach ($casts as $key => $spec) {
        foreach (is_array($spec) ? $spec : explode(',', $spec) as $cast) {
            if (!dot_has($output, $key)) break;
            $value = dot_get($output, $key);
            $match = null;
            if (str_starts_with($cast, 'unsetIfValue==')) { $match = substr($cast, 14); $cast = 'unsetIfValue'; }
            switch ($cast) {
                case 'int': case 'integer': $value = (int) $value; break;
                case 'bool': case 'boolean': $value = ((int) $value === 1 || strtolower((string) $value) === 'true' || strtolower((string) $value) === 'yes'); break;
                case 'string': $value = (string) $value; break;
                case 'url': $value = urlencode((string) $value); break;
                case 'jsonToArray': if (!is_array($value)) $value = json_decode(html_entity_decode((string) $value), true); break;
                case 'moneyStringToInt': $value = (int) str_replace(['.', ','], '', (string) $value); break;
                case 'coordinateStringToArray': $value = coordinate_string_to_array((string) $value); break;
                case 'unsetIfValue':
                    if ($value == $match || ($match === '' && ($value === '' || $value === null || (is_array($value) && is_empty_array($value))))) {
                        dot_delete($output, $key);
                        continue 3;
                    }
                    break;
            }
            dot_set($output, $key, $value);
        }
    }
    return $output;
}

$fixture = json_decode(file_get_contents($argv[1]), true);
$seconds = (float) ($argv[2] ?? 3);
$definition = $fixture['mapping'];
$input = $fixture['input'];

$twig = new Environment(new ArrayLoader([]));
$twig->addFilter(new TwigFilter('slugify', function ($s) {
    $s = preg_replace('/[\s_]+/', '-', strtolower((string) $s));
    return trim(preg_replace('/-+/', '-', preg_replace('/[^a-z0-9-]/', '', $s)), '-');
}));
// Compiled once, as our side compiles once.
$templates = [];
foreach ($definition['mapping'] as $key => $value) {
    if (is_string($value)) $templates[$key] = $twig->createTemplate($value);
}

$map = function (array $input) use ($definition, $templates): array {
    $encoded = encode_keys($input);
    $output = !empty($definition['passThrough']) ? $encoded : [];
    foreach ($definition['mapping'] as $key => $value) {
        if (is_string($value) && dot_has($encoded, $value)) {
            dot_set($output, $key, dot_get($encoded, $value));
        } elseif (is_array($value)) {
            dot_set($output, $key, $value);
        } else {
            dot_set($output, $key, html_entity_decode($templates[$key]->render($input)));
        }
    }
    foreach ($definition['unset'] ?? [] as $path) {
        if (dot_has($output, $path)) dot_delete($output, $path);
    }
    return handle_cast($output, $definition['cast'] ?? []);
};

$result = $map($input);
$count = 0;
$start = hrtime(true);
$deadline = $start + (int) ($seconds * 1e9);
do {
    for ($i = 0; $i < 100; $i++) $map($input);
    $count += 100;
} while (hrtime(true) < $deadline);
$elapsed = (hrtime(true) - $start) / 1e9;
echo json_encode(['objectsPerSecond' => $count / $elapsed, 'result' => $result], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";
