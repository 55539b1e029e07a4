/**
 * Reading records line by line: SageMaker data capture with CSV and BASE64 bodies, plain rows, malformed
 * lines named with file and line; AUC with ties by hand; a missing data folder named.
 */
import { InvalidInputError, NotFoundError } from '../../runtime/common/errors';
import { performanceOf, rocAuc } from '../../runtime/monitoring/performance';
import { predictionValue, recordsOfLine } from '../../runtime/monitoring/records';
import { liveKeys } from '../../runtime/monitoring/source';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { makeTempDir } from '../helpers/tmp';

const FEATURES = ['age', 'plan'];

describe('records of a line', () => {
  it('GIVEN a SageMaker capture of a CSV request and a BASE64 JSON answer WHEN read THEN rows pair with predictions under the event id', () => {
    const output = Buffer.from(JSON.stringify({ predictions: [{ prediction: 'yes' }, { prediction: 'no' }] })).toString('base64');
    const line = JSON.stringify({
      captureData: {
        endpointInput: { observedContentType: 'text/csv', mode: 'INPUT', data: '41,basic\n23,pro', encoding: 'CSV' },
        endpointOutput: { observedContentType: 'application/json', mode: 'OUTPUT', data: output, encoding: 'BASE64' },
      },
      eventMetadata: { eventId: 'e-1', inferenceTime: '2026-01-01T00:00:00Z' },
    });
    expect(recordsOfLine(line, FEATURES, 'f line 1')).toEqual([
      { id: 'e-1#0', time: '2026-01-01T00:00:00Z', features: { age: '41', plan: 'basic' }, prediction: { prediction: 'yes' } },
      { id: 'e-1#1', time: '2026-01-01T00:00:00Z', features: { age: '23', plan: 'pro' }, prediction: { prediction: 'no' } },
    ]);
  });

  it('GIVEN a plain row WHEN read THEN it is the features, its id kept', () => {
    expect(recordsOfLine('{"request_id":7,"age":3}', FEATURES, 'f')).toEqual([{ id: '7', features: { request_id: 7, age: 3 } }]);
  });

  it('GIVEN malformed lines WHEN read THEN the file and line are named', () => {
    expect(() => recordsOfLine('{oops', FEATURES, 'cap.jsonl line 4')).toThrow(/^cap\.jsonl line 4: not valid JSON/);
    expect(() => recordsOfLine('[1]', FEATURES, 'cap.jsonl line 5')).toThrow(InvalidInputError);
    expect(() => recordsOfLine('{"captureData":{"endpointInput":{}}}', FEATURES, 'cap.jsonl line 6')).toThrow(/line 6: a SageMaker capture record without captureData data/);
    expect(() => recordsOfLine('{"captureData":{"endpointInput":{"data":"{x","encoding":"JSON"}}}', FEATURES, 'l7')).toThrow(/l7: a SageMaker capture record whose data cannot be read/);
  });

  it('takes the score of the positive class, else the label or value', () => {
    expect(predictionValue({ prediction: 'yes', probabilities: { no: 0.4, yes: 0.6 } }, 'yes')).toBe(0.6);
    expect(predictionValue({ prediction: 'b' }, null)).toBe('b');
    expect(predictionValue(12.5, null)).toBe(12.5);
  });
});

describe('performance', () => {
  it('AUC counts ties as one half: scores .5 (pos) .5 (neg) .9 (pos) .1 (neg) give (1 + .5 + 1 + 1) / 4', () => {
    expect(rocAuc([0.5, 0.5, 0.9, 0.1], [true, false, true, false])).toBeCloseTo(0.875, 12);
    expect(rocAuc([0.2, 0.3], [true, true])).toBeNull();
  });

  it('nothing joined gives nulls; accuracy compares labels', () => {
    expect(performanceOf([], 'yes')).toEqual({ joined: 0, accuracy: null, auc: null });
    expect(performanceOf([{ predicted: 'a', actual: 'a' }, { predicted: 'b', actual: 'a' }], null)).toEqual({ joined: 2, accuracy: 0.5, auc: null });
  });
});

describe('live keys', () => {
  it('GIVEN a folder without data WHEN listed THEN NotFoundError names where and what was expected', async () => {
    const store = new LocalObjectStore(makeTempDir());
    await store.put('x/readme.txt', 'x');
    await expect(liveKeys(store, 'x/')).rejects.toThrow(NotFoundError);
    await expect(liveKeys(store, 'x')).rejects.toThrow(/no data at .*x: expected a \.csv or \.jsonl object/);
  });

  it('GIVEN a processed run folder WHEN listed THEN its data is read and its _SUCCESS.json marker is not', async () => {
    const store = new LocalObjectStore(makeTempDir());
    await store.put('run/data.csv', 'a\n1\n');
    await store.put('run/_SUCCESS.json', '{\n"rows": 1\n}');
    expect(await liveKeys(store, 'run/')).toEqual(['run/data.csv']);
  });
});
