<?php
/**
 * An upload job's progress as JSON, for the page's progress bars (polled: it works on any
 * PHP host, the built-in server included). The browser asks this page, never mcsync: the
 * token stays on the server.
 */
declare(strict_types=1);

require __DIR__ . '/lib.php';

use Mcsync\Client\McsyncException;
use Mcsync\V1;

header('Content-Type: application/json');
header('Cache-Control: no-store');
require_admin(true);
$id = (string) ($_GET['job'] ?? '');
if ($id === '' || strlen($id) > 100) {
    http_response_code(400);
    echo json_encode(['error' => 'job: required']);
    exit;
}
try {
    $job = mcsync()->getJob($id);
} catch (McsyncException $e) {
    http_response_code($e->getGrpcCode() === McsyncException::NOT_FOUND ? 404 : 502);
    echo json_encode(['error' => $e->getGrpcMessage()]);
    exit;
}
$lists = [];
try {
    foreach (mcsync()->listLists()->getLists() as $l) {
        $lists[$l->getId()] = $l->getName();
    }
} catch (McsyncException $e) {
    // Names are a nicety; ids do.
}
$states = [
    V1\JobState::JOB_STATE_RUNNING => 'running',
    V1\JobState::JOB_STATE_SUCCEEDED => 'succeeded',
    V1\JobState::JOB_STATE_FAILED => 'failed',
    V1\JobState::JOB_STATE_CANCELLED => 'cancelled',
];
$phases = [];
foreach ($job->getPhases() as $p) {
    $settled = $p->getDone() + $p->getSkipped() + $p->getFailed();
    $phases[] = [
        'list' => $lists[$p->getListId()] ?? $p->getListId(),
        'kind' => kind_name($p->getKind()),
        'total' => $p->getTotal(),
        'settled' => $settled,
        'failed' => $p->getFailed(),
        'percent' => $p->getTotal() > 0 ? round(100 * $settled / $p->getTotal(), 1) : 100,
    ];
}
echo json_encode([
    'job' => $job->getJobId(),
    'state' => $states[$job->getState()] ?? 'unknown',
    'percent' => round($job->getPercent(), 1),
    'message' => $job->getMessage(),
    'errors' => count($job->getErrors()),
    'phases' => $phases,
]);
