import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EC2ServiceException } from '@aws-sdk/client-ec2';
import { NoSuchHostedZone, PriorRequestNotComplete, ThrottlingException } from '@aws-sdk/client-route-53';
import { classifyError, describeError } from '../../lib/endpoint/errors.js';

const ec2Error = (name: string, status: number): EC2ServiceException =>
  new EC2ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: `${name} happened` });

describe('classifyError', () => {
  it('sorts AWS errors into permission, not-found, retryable and fatal', () => {
    const cases: [unknown, string][] = [
      [ec2Error('UnauthorizedOperation', 403), 'permission'],
      [{ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }, 'permission'],
      [{ name: 'AccessDeniedException', $metadata: {} }, 'permission'],
      [{ name: 'Whatever', $metadata: { httpStatusCode: 403 } }, 'permission'],
      [ec2Error('InvalidAllocationID.NotFound', 400), 'not-found'],
      [ec2Error('InvalidNetworkInterfaceID.NotFound', 400), 'not-found'],
      [ec2Error('InvalidAddress.NotFound', 400), 'not-found'],
      [new NoSuchHostedZone({ $metadata: { httpStatusCode: 404 }, message: 'no zone' }), 'not-found'],
      [ec2Error('RequestLimitExceeded', 503), 'retryable'],
      [{ name: 'Throttling', $metadata: { httpStatusCode: 400 } }, 'retryable'],
      [new ThrottlingException({ $metadata: { httpStatusCode: 400 }, message: 'slow down' }), 'retryable'],
      [new PriorRequestNotComplete({ $metadata: { httpStatusCode: 400 }, message: 'busy' }), 'retryable'],
      [ec2Error('InternalError', 500), 'retryable'],
      [{ name: 'Odd', $metadata: { httpStatusCode: 502 } }, 'retryable'],
      [Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'retryable'],
      [ec2Error('InvalidParameterValue', 400), 'fatal'],
      [new Error('boom'), 'fatal'],
    ];
    for (const [err, expected] of cases) assert.equal(classifyError(err), expected, describeError(err));
  });

  it('describes an error by its code and message', () => {
    assert.equal(describeError(ec2Error('RequestLimitExceeded', 503)), 'RequestLimitExceeded: RequestLimitExceeded happened');
    assert.equal(describeError({ name: 'Throttling', message: 'Rate exceeded' }), 'Throttling: Rate exceeded');
    assert.equal(describeError('plain'), 'plain');
  });
});
